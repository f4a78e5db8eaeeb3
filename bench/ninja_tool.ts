/**
 * Ninja with one build edge per task, run as `ninja -j2`.
 *
 * @module
 */

import { join } from "node:path";
import { captureOutput } from "./run_process.ts";
import { depOf, outPath, srcPath } from "./synthetic_graph.ts";
import type { BuildTool } from "./tool.ts";
import { discardPath } from "./workspace_fs.ts";

/**
 * The synthetic graph as a `build.ninja`: a single `cat $in > $out` rule, inputs listed source
 * first, so every edge runs exactly the task's command.
 */
export function buildNinja(n: number): string {
  const lines = ["rule cat", "  command = cat $in > $out", ""];
  for (let i = 0; i < n; i++) {
    const dep = depOf(i);
    const ins = dep === null ? srcPath(i) : `${srcPath(i)} ${outPath(dep)}`;
    lines.push(`build ${outPath(i)}: cat ${ins}`);
  }
  return lines.join("\n") + "\n";
}

/** Ninja. */
export const ninjaTool: BuildTool = {
  name: "ninja",
  restoresFromCache: false,
  async unavailable() {
    return (await captureOutput("ninja", ["--version"])) === null ? "ninja not found" : null;
  },
  async version() {
    return `ninja ${(await captureOutput("ninja", ["--version"])) ?? "?"}`;
  },
  writeConfig(dir, n) {
    Deno.writeTextFileSync(join(dir, "build.ninja"), buildNinja(n));
  },
  buildCommand(dir) {
    return { cmd: "ninja", args: ["-j2"], cwd: dir };
  },
  clearState(dir) {
    discardPath(join(dir, ".ninja_log"));
    discardPath(join(dir, ".ninja_deps"));
  },
};
