/**
 * The synthetic-graph scenarios of every tool at one size, each tool in a fresh workspace
 * `bench/.work/<tool>-<N>/`:
 *
 * - `cold`: empty `out/`, tool state and cache cleared;
 * - `no-op`: everything up to date;
 * - `restore`: every output deleted (a cache restore for kiln and deno task, a full rebuild for
 *   make and ninja, labelled so);
 * - `edit-leaf`: the last task's source changed (to new text each run, so no cache can serve it).
 *
 * Before each timed run the scenario's state is reset (untimed), and after it the outputs are
 * checked (untimed): all N present, the last one with the right contents.
 *
 * @module
 */

import { join } from "node:path";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { workspaceDir } from "./paths.ts";
import {
  editedLeaf,
  outPath,
  sourceText,
  srcPath,
  verifyOutputs,
  writeSources,
} from "./synthetic_graph.ts";
import type { ProcessSpec } from "./run_process.ts";
import { type RunHooks, runOnce, type RunPlan, RunSchedule } from "./timed_runs.ts";
import type { BuildTool } from "./tool.ts";
import { emptyDir } from "./workspace_fs.ts";

/** Scenario names, in the order they run. */
export const GRAPH_SCENARIOS = ["cold", "no-op", "restore", "edit-leaf"] as const;

/** One of {@link GRAPH_SCENARIOS}. */
export type GraphScenario = typeof GRAPH_SCENARIOS[number];

interface ScenarioDef {
  /** Whether the workspace must be fully built before the first run. */
  readonly needsBuilt: boolean;
  prepare(): void | Promise<void>;
  readonly note?: string;
}

/** Writes a fresh workspace for `tool` with an N-task graph; returns its folder. */
export function createWorkspace(tool: BuildTool, n: number): string {
  const dir = workspaceDir(tool.name, n);
  emptyDir(dir);
  writeSources(dir, n);
  Deno.mkdirSync(join(dir, "out"));
  tool.writeConfig(dir, n);
  tool.clearState(dir, n);
  return dir;
}

/** One tool's workspace and scenario definitions at one size. */
interface Contender {
  readonly tool: BuildTool;
  readonly spec: ProcessSpec;
  readonly defs: Record<GraphScenario, ScenarioDef>;
  verify(): string | null;
}

function contender(tool: BuildTool, n: number): Contender {
  const dir = createWorkspace(tool, n);
  const out = join(dir, "out");
  const leaf = editedLeaf(n);
  const leafSrc = join(dir, srcPath(leaf));
  const leafOut = join(dir, outPath(leaf));
  let edits = 0;
  const defs: Record<GraphScenario, ScenarioDef> = {
    cold: {
      needsBuilt: false,
      prepare() {
        Deno.writeTextFileSync(leafSrc, sourceText(leaf));
        emptyDir(out);
        tool.clearState(dir, n);
      },
    },
    "no-op": { needsBuilt: true, prepare() {} },
    restore: {
      needsBuilt: true,
      prepare() {
        emptyDir(out);
      },
      note: tool.restoresFromCache ? "restore from cache" : "full rebuild (no cache)",
    },
    "edit-leaf": {
      needsBuilt: true,
      async prepare() {
        // File times tick with the kernel's coarse clock (a few ms): a source written right after
        // the build can get the very mtime of its output, and make or ninja would then see
        // nothing to do. Rewrite until the source is visibly newer, as after a real edit.
        for (;;) {
          Deno.writeTextFileSync(leafSrc, `${sourceText(leaf)}edit ${++edits} at ${Date.now()}\n`);
          const src = Deno.statSync(leafSrc).mtime?.getTime() ?? 0;
          const built = Deno.statSync(leafOut).mtime?.getTime() ?? 0;
          if (src > built) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      },
    },
  };
  return { tool, spec: tool.buildCommand(dir, n), defs, verify: () => verifyOutputs(dir, n) };
}

/** One contender's progress through one scenario. */
interface Entry {
  readonly c: Contender;
  readonly def: ScenarioDef;
  readonly schedule: RunSchedule;
  error: string | null;
}

async function attempt(e: Entry, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    e.error = err instanceof Error ? err.message : String(err);
  }
}

/**
 * Runs the chosen scenarios for every tool at size `n`, each tool in its own fresh workspace, and
 * returns one measurement per tool and scenario (a failed one carries `error`).
 *
 * Runs are interleaved: each round makes one run of every tool in turn, so a change in the
 * machine's load (it may be shared) affects all tools alike and the ratios stay fair.
 *
 * @param log receives one progress line per tool and scenario
 */
export async function benchGraph(
  tools: readonly BuildTool[],
  n: number,
  scenarios: readonly GraphScenario[],
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const contenders = tools.map((t) => contender(t, n));
  const results: Measurement[] = [];
  for (const scenario of scenarios) {
    const entries: Entry[] = contenders.map((c) => ({
      c,
      def: c.defs[scenario],
      schedule: new RunSchedule(plan),
      error: null,
    }));
    for (const e of entries) {
      if (!e.def.needsBuilt) continue;
      await attempt(e, async () => {
        await runOnce(e.c.spec, { prepare() {}, verify: e.c.verify }, plan.timeoutMs);
      });
    }
    const pending = () => entries.filter((e) => e.error === null && !e.schedule.done);
    for (let round = pending(); round.length; round = pending()) {
      for (const e of round) {
        await attempt(e, async () => {
          const hooks: RunHooks = { prepare: e.def.prepare, verify: e.c.verify };
          e.schedule.record(await runOnce(e.c.spec, hooks, plan.timeoutMs));
        });
      }
    }
    for (const e of entries) {
      const base = { group: "graph" as const, tool: e.c.tool.name, n, scenario, note: e.def.note };
      const where = `${e.c.tool.name} N=${n} ${scenario}`;
      if (e.error !== null) {
        results.push(failedMeasurement(base, e.error));
        log(`${where}: FAILED ${e.error}`);
        continue;
      }
      const r = e.schedule.result();
      results.push({ ...base, medianMs: r.median, minMs: r.min, maxMs: r.max, samples: r.samples });
      log(
        `${where}: median ${r.median.toFixed(1)} ms ` +
          `(${r.samples.map((x) => x.toFixed(0)).join(", ")})`,
      );
    }
  }
  return results;
}
