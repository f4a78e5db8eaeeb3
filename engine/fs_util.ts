/**
 * Filesystem helpers that skip work: on this class of machine a `mkdir` of an existing folder or
 * a failing `remove` costs 0.2-1 ms of main-thread time, against 3 µs for the `statx` that
 * avoids it; across 1,000 tasks that was most of a cold build.
 *
 * @module
 */

import { statFile } from "./stat.ts";

/** `mkdir -p`, with a stat first: creating an existing folder is the expensive case. */
export function ensureDir(dir: string): void {
  if (statFile(dir)?.kind !== "dir") Deno.mkdirSync(dir, { recursive: true });
}

/** Removes `path` (recursively) if it exists; a stat first avoids a failing syscall. */
export function removeIfExists(path: string): boolean {
  const st = statFile(path);
  if (!st) return false;
  try {
    Deno.removeSync(path, { recursive: st.kind === "dir" });
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
