/**
 * The OS-image pipeline on the offline demo distro, kiln run as a black box: the cold build
 * (every step, the accelerator probe included, into an empty kiln cache and ISO cache) and the
 * no-op rebuild. kiln runs from a copy of the repository's sources in `bench/.work/demo-repo/`
 * (so the repository's own `build/`, `dist/` and `.kiln/` are left alone), with its cache in
 * `bench/.work/kiln-cache-demo/`.
 *
 * Besides wall time, a cold build reports kiln's own overhead: wall time minus the time spent in
 * packer and QEMU (the accelerator probe's boots, `packer build`, and validate's `qemu-img check`
 * and boot), as the pipeline's steps record it (`host:accelerator`'s log,
 * `build/images/demo/build.json`, `validate.json`). Work kiln does while a VM runs is hidden.
 *
 * @module
 */

import { join } from "node:path";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { REPO_ROOT, WORK_DIR } from "./paths.ts";
import type { ProcessSpec } from "./run_process.ts";
import { measureRuns, type RunPlan } from "./timed_runs.ts";
import { removePath } from "./workspace_fs.ts";
import { RELEASE_SOURCES } from "../tasks/release_archives.ts";

/** Scenario names of the demo rows. */
export const DEMO_SCENARIOS = {
  cold: "demo cold",
  overhead: "demo cold: kiln overhead",
  noOp: "demo no-op",
} as const;

/** What kiln runs from (every pipeline loads with `tasks/mod.ts`), plus its package specs. */
const SOURCES = [...RELEASE_SOURCES, "packaging"];

/** Copies what `deno task build:demo` needs into `dest` (replacing it). */
async function copySources(dest: string): Promise<void> {
  removePath(dest);
  Deno.mkdirSync(dest, { recursive: true });
  const r = await new Deno.Command("cp", {
    args: ["-r", ...SOURCES.map((s) => join(REPO_ROOT, s)), dest],
  }).output();
  if (!r.success) {
    throw new Error(`copying the sources failed: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** Time the cold build spent in packer and QEMU, from the records the steps wrote. */
function vmMs(repo: string): number {
  const build = JSON.parse(Deno.readTextFileSync(join(repo, "build/images/demo/build.json")));
  const validate = JSON.parse(
    Deno.readTextFileSync(join(repo, "build/images/demo/validate.json")),
  );
  const log = Deno.readTextFileSync(join(repo, ".kiln/logs/host%3Aaccelerator.log"));
  const probe = Number(/^probe: (\d+) ms in QEMU$/m.exec(log)?.[1] ?? 0);
  return probe + build.vmMs.probe + build.vmMs.packer + validate.vmMs;
}

/** Measures the demo pipeline's cold build (and kiln's overhead in it) and its no-op rebuild. */
export async function benchDemo(
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const repo = join(WORK_DIR, "demo-repo");
  const cache = join(WORK_DIR, "kiln-cache-demo");
  await copySources(repo);
  const spec: ProcessSpec = {
    cmd: Deno.execPath(),
    args: ["run", "-A", join(repo, "build.ts"), "build", "image:demo:compress"],
    cwd: repo,
    env: { KILN_CACHE_DIR: cache },
  };
  const image = join(repo, "dist/images/demo/SHA256SUMS");
  const built = () => {
    try {
      Deno.statSync(image);
      return null;
    } catch {
      return "no dist/images/demo/SHA256SUMS after the build";
    }
  };
  const results: Measurement[] = [];
  const base = { group: "demo" as const, tool: "kiln", n: null };
  const overheads: number[] = [];
  try {
    const cold = await measureRuns(spec, {
      prepare() {
        for (const p of ["build", "dist", ".kiln"]) removePath(join(repo, p));
        removePath(cache); // kiln's store, the ISO cache and the accelerator probe's answer
      },
      verify(run) {
        const problem = built();
        if (problem) return problem;
        const vm = vmMs(repo);
        overheads.push(run.ms - vm);
        log(`demo cold: ${run.ms.toFixed(0)} ms, of which packer and QEMU ${vm} ms`);
        return null;
      },
    }, { ...plan, runs: Math.min(plan.runs, 3), slowRuns: Math.min(plan.slowRuns, 3) });
    results.push({
      ...base,
      scenario: DEMO_SCENARIOS.cold,
      medianMs: cold.median,
      minMs: cold.min,
      maxMs: cold.max,
      samples: cold.samples,
    });
    // The warm-up run is not in the samples: keep the overheads of the timed runs only.
    const timed = overheads.slice(-cold.samples.length);
    const sorted = [...timed].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    results.push({
      ...base,
      scenario: DEMO_SCENARIOS.overhead,
      medianMs: median,
      minMs: sorted[0],
      maxMs: sorted[sorted.length - 1],
      samples: timed,
      note: `${(100 * median / cold.median).toFixed(1)}% of the cold build`,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    results.push(failedMeasurement({ ...base, scenario: DEMO_SCENARIOS.cold }, msg));
    log(`demo cold: FAILED ${msg}`);
    return results;
  }
  try {
    const noOp = await measureRuns(spec, { prepare() {}, verify: built }, plan);
    results.push({
      ...base,
      scenario: DEMO_SCENARIOS.noOp,
      medianMs: noOp.median,
      minMs: noOp.min,
      maxMs: noOp.max,
      samples: noOp.samples,
    });
    log(`demo no-op: median ${noOp.median.toFixed(1)} ms`);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    results.push(failedMeasurement({ ...base, scenario: DEMO_SCENARIOS.noOp }, msg));
  }
  return results;
}
