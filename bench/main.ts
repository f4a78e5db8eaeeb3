/**
 * `deno task bench`: times whole build processes (wall clock, median of several runs after a
 * warm-up) of kiln against make, ninja and deno task on a synthetic task graph of 1,000 and
 * 10,000 tasks, plus SHA-256 throughput against openssl and the restore of a 2 GiB output; then
 * prints the machine, a results table and kiln's targets as PASS/FAIL.
 *
 * kiln is measured as a black box (`deno run -A build.ts build --file kiln.yaml`). Everything is
 * written under `bench/.work/`. The exit code is 0 even when a target fails: this is a
 * measurement, not a test. Run with `--help` for the flags.
 *
 * @module
 */

import { benchAptIndex } from "./apt_index.ts";
import { benchBigRestore } from "./big_restore.ts";
import { benchDemo } from "./demo_pipeline.ts";
import { benchFetch } from "./fetch_throughput.ts";
import { type BenchOptions, parseBenchOptions, USAGE } from "./cli_options.ts";
import { denoTaskTool } from "./deno_task_tool.ts";
import { benchGraph } from "./graph_bench.ts";
import { benchHash } from "./hash_throughput.ts";
import { kilnTool } from "./kiln_tool.ts";
import { formatMachineInfo, machineInfo } from "./machine_info.ts";
import { makeTool } from "./make_tool.ts";
import type { Measurement } from "./measurement.ts";
import { ninjaTool } from "./ninja_tool.ts";
import { WORK_DIR } from "./paths.ts";
import { formatResults } from "./report_table.ts";
import { captureOutput } from "./run_process.ts";
import { checkTargets, formatTargets } from "./targets.ts";
import type { RunPlan } from "./timed_runs.ts";
import type { BuildTool } from "./tool.ts";
import { purgeTrash } from "./workspace_fs.ts";

const ALL_TOOLS: readonly BuildTool[] = [kilnTool, ninjaTool, makeTool, denoTaskTool];

function progress(line: string): void {
  console.error(`[bench] ${line}`);
}

/** Runs the benchmark with parsed options and returns the report's text. */
export async function runBench(o: BenchOptions): Promise<{ report: string; json: unknown }> {
  Deno.mkdirSync(WORK_DIR, { recursive: true });
  await purgeTrash(); // left by an interrupted run
  const plan: RunPlan = {
    runs: o.runs,
    warmup: o.warmup,
    slowRuns: Math.min(o.slowRuns, o.runs),
    slowMs: o.slowMs,
    timeoutMs: o.timeoutMs,
  };

  const tools: BuildTool[] = [];
  const skipped: string[] = [];
  for (const t of ALL_TOOLS.filter((t) => o.only.has(t.name))) {
    const why = await t.unavailable();
    if (why) {
      skipped.push(`${t.name}: ${why}`);
      progress(`skipping ${t.name}: ${why}`);
    } else tools.push(t);
  }
  const versions = await Promise.all(tools.map((t) => t.version()));
  if (o.only.has("hash")) {
    versions.push((await captureOutput("openssl", ["version"])) ?? "openssl ?");
  }
  const machine = machineInfo(versions);
  for (const line of formatMachineInfo(machine)) progress(line);

  const results: Measurement[] = [];
  for (const n of o.sizes) {
    if (!tools.length || !o.scenarios.length) break;
    progress(`N=${n}: ${o.scenarios.join(", ")} with ${tools.map((t) => t.name).join(", ")}`);
    results.push(...await benchGraph(tools, n, o.scenarios, plan, progress));
  }
  if (o.only.has("hash")) {
    progress("SHA-256 of 2 GiB: kiln hashFile vs openssl");
    results.push(...await benchHash(plan, progress));
  }
  if (o.only.has("fetch")) {
    progress("2 GiB download on loopback: kiln fetchFile vs curl -o");
    // An even number of runs: the clients alternate (see fetch_throughput.ts).
    results.push(...await benchFetch({ ...plan, runs: plan.runs + (plan.runs % 2) }, progress));
  }
  if (o.only.has("demo")) {
    progress("the OS-image pipeline on the demo distro: cold and no-op");
    results.push(...await benchDemo(plan, progress));
  }
  if (o.only.has("apt")) {
    progress("APT index of 1,000 packages: kiln vs apt-ftparchive + gpg, then adding one");
    results.push(...await benchAptIndex(plan, progress));
  }
  if (o.only.has("big")) {
    progress("kiln build and restore of a 2 GiB output");
    results.push(...await benchBigRestore(plan, progress));
  }

  progress("deleting discarded outputs and caches");
  await purgeTrash();

  const targets = checkTargets(results);
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  let endLoad: number[] = [];
  try {
    endLoad = Deno.loadavg();
  } catch {
    // unknown
  }
  const report = [
    "kiln benchmark: whole processes, wall clock",
    ...formatMachineInfo(machine),
    `load:    ${endLoad.map((l) => l.toFixed(2)).join(" ")} (1, 5, 15 min) at end`,
    `runs:    median of ${o.runs} timed runs after ${o.warmup} warm-up` +
    ` (${plan.slowRuns} when a first run took over ${
      o.slowMs / 1000
    } s), tools interleaved run by` +
    " run; -j2 for make and ninja, default parallelism (cores) for kiln and deno task",
    ...skipped.map((s) => `skipped: ${s}`),
    "",
    formatResults(results),
    "",
    "Targets:",
    ...formatTargets(targets, color),
  ].join("\n");
  const json = {
    machine,
    options: { ...o, only: [...o.only] },
    skipped,
    results,
    targets,
  };
  return { report, json };
}

if (import.meta.main) {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(Deno.args);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const { report, json } = await runBench(options);
  console.log(report);
  if (options.json) {
    Deno.writeTextFileSync(
      options.json,
      JSON.stringify(
        json,
        (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
        2,
      ) +
        "\n",
    );
    console.log(`\nresults saved to ${options.json}`);
  }
}
