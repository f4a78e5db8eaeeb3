/**
 * Where the benchmark lives and works. Everything it writes stays under {@link WORK_DIR}
 * (`bench/.work/`, git-ignored): on this machine `/tmp` creates files about ten times slower,
 * which would swamp the numbers of a 10,000-file build.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Folder of the benchmark's sources (`bench/`). */
export const BENCH_DIR: string = dirname(fileURLToPath(import.meta.url));

/** The repository root (the folder holding `build.ts`). */
export const REPO_ROOT: string = dirname(BENCH_DIR);

/** kiln's command-line entry point, run as a black box with `deno run -A`. */
export const KILN_ENTRY: string = join(REPO_ROOT, "build.ts");

/** Scratch folder for workspaces, caches and the 2 GiB data file. */
export const WORK_DIR: string = join(BENCH_DIR, ".work");

/** Workspace of one tool at one graph size, e.g. `bench/.work/kiln-1000`. */
export function workspaceDir(tool: string, n: number | string): string {
  return join(WORK_DIR, `${tool}-${n}`);
}
