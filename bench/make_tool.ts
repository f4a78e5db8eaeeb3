/**
 * GNU make with one explicit rule per task (`out/i.txt: src/i.txt out/<dep>.txt`), run as
 * `make -j2`. Built-in implicit rules are switched off in the Makefile, as any large generated
 * Makefile does, so a no-op does not search for ways to remake every `src/` file.
 *
 * @module
 */

import { join } from "node:path";
import { captureOutput } from "./run_process.ts";
import { depOf, outPath, srcPath, taskCommand } from "./synthetic_graph.ts";
import type { BuildTool } from "./tool.ts";

/** The synthetic graph as a Makefile whose default goal `all` builds every output. */
export function makefile(n: number): string {
  const outs: string[] = [];
  for (let i = 0; i < n; i++) outs.push(outPath(i));
  const lines = [
    "MAKEFLAGS += --no-builtin-rules",
    ".SUFFIXES:",
    ".PHONY: all",
    `all: ${outs.join(" ")}`,
    "",
  ];
  for (let i = 0; i < n; i++) {
    const dep = depOf(i);
    const prereqs = dep === null ? srcPath(i) : `${srcPath(i)} ${outPath(dep)}`;
    lines.push(`${outPath(i)}: ${prereqs}`, `\t${taskCommand(i)}`);
  }
  return lines.join("\n") + "\n";
}

/** GNU make. */
export const makeTool: BuildTool = {
  name: "make",
  restoresFromCache: false,
  async unavailable() {
    return (await captureOutput("make", ["--version"])) === null ? "make not found" : null;
  },
  async version() {
    return (await captureOutput("make", ["--version"]))?.split("\n")[0] ?? "make ?";
  },
  writeConfig(dir, n) {
    Deno.writeTextFileSync(join(dir, "Makefile"), makefile(n));
  },
  buildCommand(dir) {
    return { cmd: "make", args: ["-j2"], cwd: dir };
  },
  clearState() {
    // make keeps no state besides the outputs' timestamps
  },
};
