/**
 * Durable, atomic file writes with group commit.
 *
 * Every cache write goes to a temporary file, is flushed to disk, then renamed into place, so a
 * killed process (or a crashed machine) never leaves a partial entry visible. One `fsync` per
 * file costs ~0.4 ms here, which for 1,000 small outputs would cost more than running them; so
 * writes are batched and flushed with a single `syncfs(2)` (13 ms for 1,000 files) before the
 * batch's renames, in the order they were queued. A small batch is fsynced file by file instead
 * (see {@link FSYNC_EACH_MAX}), as is every batch where `syncfs` is unavailable.
 *
 * @module
 */

import { cString, loadLibc } from "./libc.ts";

/** Batches up to this many files are flushed file by file rather than with one `syncfs`. */
export const FSYNC_EACH_MAX = 64;

/** Writes queued as (temporary file, final path) pairs and made visible together by `commit()`. */
export class GroupCommit {
  #dir: string;
  #pending: { tmp: string; final: string }[] = [];

  /** @param dir a folder on the filesystem that the temporary and final files live on */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Number of queued renames. */
  get size(): number {
    return this.#pending.length;
  }

  /** Queues the rename of a fully written `tmp` to `final`. */
  add(tmp: string, final: string): void {
    this.#pending.push({ tmp, final });
  }

  /** Flushes the queued files to disk, then renames them in order. */
  async commit(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    // A few files: fsync each (in parallel, ~0.4 ms apiece). syncfs flushes everything dirty on
    // the filesystem, which after a VM build (disk images, ISOs) took 0.5 s here for ten entries.
    const l = batch.length > FSYNC_EACH_MAX ? loadLibc() : null;
    const fd = l ? l.open(cString(this.#dir), 0, 0) : -1;
    if (l && fd >= 0) {
      const rc = await l.syncfs(fd);
      l.close(fd);
      if (rc !== 0) await fsyncEach(batch);
    } else await fsyncEach(batch);
    for (const { tmp, final } of batch) {
      try {
        Deno.renameSync(tmp, final);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }

  /** Deletes the queued temporary files without publishing them (on interrupt). */
  discard(): void {
    for (const { tmp } of this.#pending) {
      try {
        Deno.removeSync(tmp);
      } catch { /* already gone */ }
    }
    this.#pending = [];
  }
}

async function fsyncEach(batch: { tmp: string }[]): Promise<void> {
  await Promise.all(batch.map(async ({ tmp }) => {
    try {
      using f = await Deno.open(tmp, { read: true, write: true });
      await f.syncData();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }));
}

/**
 * A fresh temporary name beside `path` (same folder, so a rename onto `path` is atomic), unique
 * to this process and call.
 */
export function tmpPath(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Replaces `path` atomically (temporary file in the same folder, then rename), without fsync.
 * Only for files kiln can derive again, the workspace state and the build stamp: after a power
 * loss a torn one fails to parse and is ignored, which costs a recheck, never a wrong result;
 * and skipping the flush keeps two ~5 ms waits off every build. Cache entries, which others
 * trust, go through {@link GroupCommit}. `beforeRename` runs once the new file is written (see
 * `removals.ts`, which keeps the old file's inode then).
 */
export function replaceFileAtomic(
  path: string,
  data: string | Uint8Array,
  beforeRename?: () => void,
): void {
  const tmp = tmpPath(path);
  try {
    if (typeof data === "string") Deno.writeTextFileSync(tmp, data);
    else Deno.writeFileSync(tmp, data);
    beforeRename?.();
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw e;
  }
}
