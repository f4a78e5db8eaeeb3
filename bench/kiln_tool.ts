/**
 * kiln, run as a black box: `deno run -A build.ts build --file kiln.yaml` in the workspace, with
 * the cache in `bench/.work/kiln-cache-<N>` (`KILN_CACHE_DIR`) and kiln's default parallelism.
 *
 * @module
 */

import { join } from "node:path";
import { KILN_ENTRY, REPO_ROOT, WORK_DIR } from "./paths.ts";
import { captureOutput, type ProcessSpec } from "./run_process.ts";
import { depOf, outPath, srcPath, taskCommand } from "./synthetic_graph.ts";
import type { BuildTool } from "./tool.ts";
import { discardPath } from "./workspace_fs.ts";

/** The kiln cache folder used for a workspace key (a graph size, or a name such as `big`). */
export function kilnCacheDir(key: number | string): string {
  return join(WORK_DIR, `kiln-cache-${key}`);
}

/** The command that runs `kiln build` on `dir/kiln.yaml` with the cache in `cacheDir`. */
export function kilnBuildSpec(dir: string, cacheDir: string): ProcessSpec {
  return {
    cmd: Deno.execPath(),
    args: ["run", "-A", KILN_ENTRY, "build", "--file", "kiln.yaml"],
    cwd: dir,
    env: { KILN_CACHE_DIR: cacheDir },
  };
}

/**
 * Forgets kiln's workspace state (`.kiln/`) and its cache folder.
 *
 * @param drop how to get rid of them: {@link discardPath} (default) or `removePath` (delete now)
 */
export function clearKilnState(
  dir: string,
  cacheDir: string,
  drop: (path: string) => void = discardPath,
): void {
  drop(join(dir, ".kiln"));
  drop(cacheDir);
}

/** The synthetic graph as a kiln task file. */
export function kilnYaml(n: number): string {
  const lines = ["tasks:"];
  for (let i = 0; i < n; i++) {
    const dep = depOf(i);
    lines.push(`  t${i}:`, `    cmd: ${taskCommand(i)}`);
    if (dep !== null) lines.push(`    deps: [t${dep}]`);
    lines.push(`    inputs: [${srcPath(i)}]`, `    outputs: [${outPath(i)}]`);
  }
  return lines.join("\n") + "\n";
}

/** kiln, this repository's build tool. */
export const kilnTool: BuildTool = {
  name: "kiln",
  restoresFromCache: true,
  unavailable() {
    try {
      Deno.statSync(KILN_ENTRY);
      return Promise.resolve(null);
    } catch {
      return Promise.resolve(`${KILN_ENTRY} not found`);
    }
  },
  async version() {
    const commit = await captureOutput("git", ["rev-parse", "--short", "HEAD"], REPO_ROOT);
    const dirty = await captureOutput(
      "git",
      ["status", "--porcelain", "--", "engine", "cli"],
      REPO_ROOT,
    );
    return `kiln @ ${commit ?? "?"}${dirty ? " + uncommitted changes in engine/ or cli/" : ""}`;
  },
  writeConfig(dir, n) {
    Deno.writeTextFileSync(join(dir, "kiln.yaml"), kilnYaml(n));
  },
  buildCommand(dir, n) {
    return kilnBuildSpec(dir, kilnCacheDir(n));
  },
  clearState(dir, n) {
    clearKilnState(dir, kilnCacheDir(n));
  },
};
