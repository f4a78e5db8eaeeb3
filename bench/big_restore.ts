/**
 * kiln with one task whose output is a 2 GiB file (a copy of the random data file): the cold build
 * (runs the task and stores the output in the cache) and the restore after deleting the output.
 * Workspace `bench/.work/kiln-big/`, cache `bench/.work/kiln-cache-big/`; both are removed
 * afterwards to give the disk space back.
 *
 * @module
 */

import { join } from "node:path";
import { clearKilnState, kilnBuildSpec, kilnCacheDir } from "./kiln_tool.ts";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { workspaceDir } from "./paths.ts";
import { BIG_SIZE, ensureRandomFile } from "./random_file.ts";
import { measureRuns, type RunHooks, type RunPlan } from "./timed_runs.ts";
import { fileSize, removePath } from "./workspace_fs.ts";

/** Scenario names of the large-output rows. */
export const BIG_SCENARIOS = { cold: "cold-2GiB", restore: "restore-2GiB" } as const;

/** The task file: one task copying the data file into `out/big.bin`. */
export function bigKilnYaml(dataFile: string): string {
  return [
    "tasks:",
    "  big:",
    `    cmd: cp ${JSON.stringify(dataFile)} out/big.bin`,
    "    outputs: [out/big.bin]",
    "",
  ].join("\n");
}

/** Measures the cold build and the restore of a 2 GiB output with kiln. */
export async function benchBigRestore(
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const data = await ensureRandomFile(undefined, undefined, log);
  const dir = workspaceDir("kiln", "big");
  const cache = kilnCacheDir("big");
  const out = join(dir, "out");
  removePath(dir);
  removePath(cache);
  Deno.mkdirSync(out, { recursive: true });
  Deno.writeTextFileSync(join(dir, "kiln.yaml"), bigKilnYaml(data));
  const spec = kilnBuildSpec(dir, cache);
  const verify = () => {
    const size = fileSize(join(out, "big.bin"));
    return size === BIG_SIZE ? null : `out/big.bin has ${size ?? "no"} bytes, expected ${BIG_SIZE}`;
  };
  const scenarios: [string, RunHooks][] = [
    [BIG_SCENARIOS.cold, {
      prepare() {
        // a few huge files: delete them outright rather than filling the trash with 2 GiB copies
        removePath(join(out, "big.bin"));
        clearKilnState(dir, cache, removePath);
      },
      verify,
    }],
    [BIG_SCENARIOS.restore, { prepare: () => removePath(join(out, "big.bin")), verify }],
  ];
  const results: Measurement[] = [];
  try {
    for (const [scenario, hooks] of scenarios) {
      const base = { group: "big" as const, tool: "kiln", n: null, scenario };
      try {
        const r = await measureRuns(spec, hooks, plan);
        results.push({
          ...base,
          medianMs: r.median,
          minMs: r.min,
          maxMs: r.max,
          samples: r.samples,
        });
        log(`kiln ${scenario}: median ${r.median.toFixed(1)} ms`);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        results.push(failedMeasurement(base, msg));
        log(`kiln ${scenario}: FAILED ${msg}`);
      }
    }
  } finally {
    removePath(dir);
    removePath(cache);
  }
  return results;
}
