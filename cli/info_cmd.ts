/**
 * Commands that read the graph and state without building: `list`, `graph`, `explain`, `clean`.
 *
 * @module
 */

import { LocalProcessRunner } from "../builders/local.ts";
import { planBuild } from "../engine/build.ts";
import { ConfigError } from "../engine/failure.ts";
import { selectTasks } from "../engine/graph.ts";
import { lockWorkspace } from "../engine/lock.ts";
import { join } from "../engine/path.ts";
import { logPath, taskStateDir } from "../engine/run_action.ts";
import { WorkspaceState } from "../engine/state.ts";
import { defaultCacheDir, LocalStore } from "../engine/store.ts";
import { EXIT } from "./exit.ts";
import { type GraphFormat, type GraphNode, renderGraph } from "./graph_format.ts";
import { loadGraph } from "./load.ts";

const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

/** `kiln list`. */
export async function listCommand(flags: { file?: string; json?: boolean }): Promise<number> {
  const g = await loadGraph(flags.file);
  const rows = g.order.map((id) => {
    const t = g.tasks.get(id)!;
    return { id, description: t.description ?? "", deps: g.deps.get(id)! };
  });
  if (flags.json) out(JSON.stringify(rows, null, 2));
  else {
    const w = Math.max(...rows.map((r) => r.id.length), 4);
    for (const r of rows) {
      const deps = r.deps.length ? `  (after ${r.deps.join(", ")})` : "";
      out(`${r.id.padEnd(w)}  ${r.description}${deps}`);
    }
  }
  return EXIT.ok;
}

/** `kiln graph`. */
export async function graphCommand(
  targets: string[],
  flags: { file?: string; format: GraphFormat; output?: string },
): Promise<number> {
  const g = await loadGraph(flags.file);
  const state = WorkspaceState.load(g.root);
  const nodes: GraphNode[] = selectTasks(g, targets).map((id) => {
    const rec = state.get(id);
    return {
      id,
      description: g.tasks.get(id)!.description,
      deps: [...g.deps.get(id)!],
      status: rec?.status,
      durationMs: rec?.durationMs,
    };
  });
  const text = await renderGraph(flags.format, nodes);
  if (flags.output) Deno.writeTextFileSync(flags.output, text);
  else Deno.stdout.writeSync(new TextEncoder().encode(text));
  return EXIT.ok;
}

/** `kiln explain <task>`: the decision for one task and the fingerprint diff behind it. */
export async function explainCommand(task: string, flags: { file?: string }): Promise<number> {
  const g = await loadGraph(flags.file);
  const plan = await planBuild(g, {
    targets: [task],
    jobs: 1,
    keepGoing: false,
    store: new LocalStore(defaultCacheDir()),
    runner: new LocalProcessRunner(),
  });
  const mine = plan.find((p) => p.id === task)!.plan;
  const words = {
    fresh: "is fresh",
    restore: "would be restored from the cache",
    run: "would run",
  };
  out(`${task} ${words[mine.decision]}`);
  for (const r of mine.reasons) out(`  ${r}`);
  const rec = WorkspaceState.load(g.root).get(task);
  if (rec) {
    out(`last run: ${rec.status} at ${rec.endedAt} (${rec.durationMs}ms), key ${rec.key}`);
  }
  return EXIT.ok;
}

/**
 * `kiln clean`: deletes outputs, logs and kept state (`ctx.stateDir()`) of the selected tasks and
 * forgets their runs.
 */
export async function cleanCommand(targets: string[], flags: { file?: string }): Promise<number> {
  const g = await loadGraph(flags.file);
  using _lock = await lockWorkspace(g.root, (h) => out(`Waiting for ${h}`));
  const state = WorkspaceState.load(g.root);
  for (const t of targets) {
    if (!g.tasks.has(t)) {
      throw new ConfigError(`Unknown task "${t}"; run "kiln list" to see the tasks`);
    }
  }
  const ids = targets.length ? targets : [...g.order];
  let removed = 0;
  for (const id of ids) {
    for (const o of g.tasks.get(id)!.outputs ?? []) {
      try {
        Deno.removeSync(join(g.root, o), { recursive: true });
        removed++;
      } catch { /* absent */ }
    }
    for (const p of [logPath(g.root, id), taskStateDir(g.root, id)]) {
      try {
        Deno.removeSync(p, { recursive: true });
      } catch { /* absent */ }
    }
    state.delete(id);
  }
  state.save();
  out(`removed ${removed} outputs of ${ids.length} tasks`);
  return EXIT.ok;
}
