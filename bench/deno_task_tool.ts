/**
 * `deno task` with input-based caching (Deno >= 2.9): each task declares `files` (inputs),
 * `output` (restored from the cache on a hit) and `dependencies`; a task `all` depends on every
 * leaf. Each workspace has its own `DENO_DIR` (`.deno_dir/`), so its task cache (`task_cache*`)
 * can be emptied for a cold build without touching the user's. Parallelism is deno's default
 * (the number of CPUs).
 *
 * Whether the installed deno supports caching is tested, not assumed: {@link denoTaskTool}'s
 * `unavailable()` builds a one-task probe twice and deletes its output, and reports a reason to
 * skip unless the second run says "cached" and the third restores the output.
 *
 * @module
 */

import { join } from "node:path";
import { WORK_DIR } from "./paths.ts";
import { type ProcessSpec, timeProcess } from "./run_process.ts";
import { depOf, outPath, srcPath, taskCommand } from "./synthetic_graph.ts";
import type { BuildTool } from "./tool.ts";
import { discardPath, emptyDir, removePath } from "./workspace_fs.ts";

/** One task of `deno.json`, with the caching fields. */
interface DenoTask {
  command?: string;
  files?: string[];
  output?: string[];
  dependencies?: string[];
}

/** The synthetic graph as a `deno.json` whose task `all` depends on every leaf task. */
export function denoTaskConfig(n: number): string {
  const tasks: Record<string, DenoTask> = {};
  const hasDependent = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const dep = depOf(i);
    const t: DenoTask = { command: taskCommand(i), files: [srcPath(i)], output: [outPath(i)] };
    if (dep !== null) {
      t.dependencies = [`t${dep}`];
      hasDependent[dep] = 1;
    }
    tasks[`t${i}`] = t;
  }
  const leaves: string[] = [];
  for (let i = 0; i < n; i++) if (!hasDependent[i]) leaves.push(`t${i}`);
  tasks.all = { dependencies: leaves };
  // one task per line: readable, and as little text as possible for deno to parse
  const lines = Object.entries(tasks).map(([id, t]) =>
    `  ${JSON.stringify(id)}: ${JSON.stringify(t)}`
  );
  return `{\n "tasks": {\n${lines.join(",\n")}\n }\n}\n`;
}

function denoDir(dir: string): string {
  return join(dir, ".deno_dir");
}

function spec(dir: string): ProcessSpec {
  return {
    cmd: Deno.execPath(),
    args: ["task", "all"],
    cwd: dir,
    env: { DENO_DIR: denoDir(dir), NO_COLOR: "1" },
  };
}

/** Runs a one-task graph three times; a reason when caching or restoring does not work. */
async function probeCaching(): Promise<string | null> {
  const dir = join(WORK_DIR, "deno-task-probe");
  emptyDir(dir);
  Deno.mkdirSync(join(dir, "src"));
  Deno.mkdirSync(join(dir, "out"));
  Deno.writeTextFileSync(join(dir, srcPath(0)), "probe\n");
  Deno.writeTextFileSync(join(dir, "deno.json"), denoTaskConfig(1));
  const run = () => timeProcess(spec(dir), 60_000);
  const first = await run();
  if (first.code !== 0) return `deno task failed on a one-task probe: ${first.tail}`;
  const second = await run();
  if (!/cached/i.test(second.tail)) {
    return `deno ${Deno.version.deno} does not cache tasks with "files"/"output" ` +
      `(second run did not report "cached")`;
  }
  removePath(join(dir, outPath(0)));
  const third = await run();
  let restored = false;
  try {
    restored = Deno.readTextFileSync(join(dir, outPath(0))) === "probe\n";
  } catch {
    // not restored
  }
  removePath(dir);
  if (third.code !== 0 || !restored) {
    return `deno ${Deno.version.deno} caches tasks but does not restore their "output"`;
  }
  return null;
}

/** `deno task` with its task cache. */
export const denoTaskTool: BuildTool = {
  name: "deno-task",
  restoresFromCache: true,
  unavailable: probeCaching,
  version() {
    return Promise.resolve(`deno task (deno ${Deno.version.deno})`);
  },
  writeConfig(dir, n) {
    Deno.writeTextFileSync(join(dir, "deno.json"), denoTaskConfig(n));
  },
  buildCommand(dir) {
    return spec(dir);
  },
  clearState(dir) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(denoDir(dir))];
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith("task_cache")) discardPath(join(denoDir(dir), e.name));
    }
  },
};
