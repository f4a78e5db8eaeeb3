/**
 * Filesystem helpers that skip work: on this class of machine a `mkdir` of an existing folder or
 * a failing `remove` costs 0.2-1 ms of main-thread time, against 3 µs for the `statx` that
 * avoids it; across 1,000 tasks that was most of a cold build.
 *
 * @module
 */

import { statFile } from "./stat.ts";

/**
 * Whether `path` exists, following a final symlink (as `test -e` does: a dangling link does
 * not count).
 *
 * @example
 * ```ts
 * if (!pathExists("/dev/kvm")) console.log("no KVM device");
 * ```
 */
export function pathExists(path: string): boolean {
  const st = statFile(path);
  if (st?.kind !== "symlink") return st !== null;
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

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

/**
 * Copies the tree at `src` to `dst` (which must not exist): folders, files with their modes,
 * symlinks as links. Bytes are copied, never hard-linked, so later writes to either side stay
 * on that side (a task publishing its kept state as an output).
 */
export function copyTree(src: string, dst: string): void {
  const st = Deno.lstatSync(src);
  if (st.isSymlink) {
    Deno.symlinkSync(Deno.readLinkSync(src), dst);
  } else if (st.isDirectory) {
    Deno.mkdirSync(dst, { mode: (st.mode ?? 0o755) & 0o777 });
    for (const e of Deno.readDirSync(src)) copyTree(`${src}/${e.name}`, `${dst}/${e.name}`);
  } else {
    Deno.copyFileSync(src, dst);
  }
}
