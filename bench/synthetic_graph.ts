/**
 * The synthetic task graph every tool builds: N tasks forming a binary tree. Task `i` depends on
 * task `(i - 1) / 2` (integer division; task 0 has none), reads `src/i.txt`, and writes
 * `out/i.txt` as its source followed by its dependency's output:
 *
 * ```sh
 * cat src/0.txt > out/0.txt
 * cat src/i.txt out/<dep>.txt > out/i.txt
 * ```
 *
 * @module
 */

import { join } from "node:path";

/** The task that task `i` depends on, or `null` for task 0. */
export function depOf(i: number): number | null {
  return i === 0 ? null : Math.floor((i - 1) / 2);
}

/** Input file of task `i`, relative to the workspace. */
export function srcPath(i: number): string {
  return `src/${i}.txt`;
}

/** Output file of task `i`, relative to the workspace. */
export function outPath(i: number): string {
  return `out/${i}.txt`;
}

/** The shell command of task `i`. */
export function taskCommand(i: number): string {
  const dep = depOf(i);
  return dep === null
    ? `cat ${srcPath(i)} > ${outPath(i)}`
    : `cat ${srcPath(i)} ${outPath(dep)} > ${outPath(i)}`;
}

/** Pristine contents of `src/i.txt`. */
export function sourceText(i: number): string {
  return `source of task ${i}\n`;
}

/** The leaf whose source the "edit one leaf" scenario changes: the last task. */
export function editedLeaf(n: number): number {
  return n - 1;
}

/** Writes the `src/` files of an N-task graph (pristine contents) into `dir`, creating `src/`. */
export function writeSources(dir: string, n: number): void {
  Deno.mkdirSync(join(dir, "src"), { recursive: true });
  for (let i = 0; i < n; i++) Deno.writeTextFileSync(join(dir, srcPath(i)), sourceText(i));
}

/**
 * What `out/i.txt` must contain given the current sources in `dir`: the sources along the path
 * from `i` up to task 0, concatenated. Reads about log2(N) files.
 */
export function expectedOutput(dir: string, i: number): string {
  let text = "";
  for (let t: number | null = i; t !== null; t = depOf(t)) {
    text += Deno.readTextFileSync(join(dir, srcPath(t)));
  }
  return text;
}

/**
 * Checks that a build of `dir` is complete and correct: `out/` holds exactly N files and the
 * last task's output matches its sources. Returns a problem description, or `null` when fine.
 */
export function verifyOutputs(dir: string, n: number): string | null {
  let count = 0;
  try {
    for (const e of Deno.readDirSync(join(dir, "out"))) if (e.isFile) count++;
  } catch {
    return "out/ is missing";
  }
  if (count !== n) return `out/ holds ${count} files, expected ${n}`;
  const last = n - 1;
  let actual: string;
  try {
    actual = Deno.readTextFileSync(join(dir, outPath(last)));
  } catch {
    return `${outPath(last)} is missing`;
  }
  return actual === expectedOutput(dir, last) ? null : `${outPath(last)} has wrong contents`;
}
