/**
 * Untimed file-system chores between runs: emptying output folders and dropping tool state.
 *
 * Nothing is deleted while measuring. On ext4, creating inodes right after many were deleted is
 * slow: the allocator skips inodes freed in the last minute (five, while their inode table block
 * is dirty), probing the buffer cache for each. A benchmark that deletes 10,000 outputs and a
 * cache before every cold build makes each later build slower than the one before (we measured
 * deno task's cold build going from 1.3 s to 7 s over five runs). So old folders are renamed into
 * `bench/.work/trash/` ({@link discardPath}) and only deleted by {@link purgeTrash}, before and
 * after the whole benchmark.
 *
 * @module
 */

import { join } from "node:path";
import { WORK_DIR } from "./paths.ts";

/** Where discarded folders wait until {@link purgeTrash}. */
export const TRASH_DIR: string = join(WORK_DIR, "trash");

let discarded = 0;

/** Removes a file or folder (recursively) now; a missing path is fine. */
export function removePath(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Moves a file or folder out of the way into {@link TRASH_DIR} without freeing its inodes (a
 * rename); a missing path is fine. Falls back to deleting when it cannot be renamed.
 */
export function discardPath(path: string): void {
  try {
    Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  Deno.mkdirSync(TRASH_DIR, { recursive: true });
  try {
    Deno.renameSync(path, join(TRASH_DIR, `${Deno.pid}-${++discarded}`));
  } catch {
    removePath(path);
  }
}

/** Replaces `path` with a fresh empty folder (the old one is discarded, not deleted). */
export function emptyDir(path: string): void {
  discardPath(path);
  Deno.mkdirSync(path, { recursive: true });
}

/**
 * Deletes everything discarded so far, then flushes the file system (`sync`) so that freshly
 * freed inodes slow down allocation for as short a time as possible.
 */
export async function purgeTrash(): Promise<void> {
  try {
    Deno.lstatSync(TRASH_DIR);
  } catch {
    return;
  }
  // rm is as fast as anything here and keeps memory flat on a million entries
  await new Deno.Command("rm", { args: ["-rf", TRASH_DIR], stdin: "null" }).output();
  removePath(TRASH_DIR);
  await new Deno.Command("sync", { stdin: "null" }).output().catch(() => {});
}

/** Size of a file in bytes, or `null` when it does not exist. */
export function fileSize(path: string): number | null {
  try {
    return Deno.statSync(path).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
