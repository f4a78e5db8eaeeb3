/**
 * File removals run on other threads while this thread goes on. On ext4 (here with `discard`),
 * deleting a file's last link costs 0.15 to 0.2 ms of this thread's time whatever its size: the
 * inode and its blocks are freed inside the `unlink`, or inside the `rename` that replaces it.
 * A publish replaces or deletes several files at its end (`Release`, its signatures, the index
 * record, superseded chunks), so it hands those frees to Deno's blocking pool and waits for them
 * only when it is done.
 *
 * A file is replaced without freeing the old one in the `rename`: its inode is first given a
 * second name in a trash folder on the same filesystem, the rename then only drops a link (0.05
 * ms), and the trash name is removed on another thread. The rename is the same atomic replacing
 * rename as before, so readers see the old file or the new one, and ext4 still flushes the new
 * file's data before the rename commits. The trash folder is beside the rest of kiln's state,
 * never in the published tree; what a killed process leaves there is removed by the next
 * {@link Removals.sweep}.
 *
 * @module
 */

import { tmpPath } from "./durable.ts";
import { join } from "./path.ts";

/**
 * The removals one publish started; {@link settle} waits for them.
 *
 * @example
 * ```ts
 * const removals = new Removals("state/trash");
 * try {
 *   removals.replace("repo/dists/stable/Release", release);
 *   removals.remove("state/chunks/old");
 * } finally {
 *   await removals.settle();
 * }
 * ```
 */
export class Removals {
  #pending: Promise<void>[] = [];
  #trashReady = false;
  #linkable = true;

  /**
   * @param trashDir where replaced files wait to be freed: on the filesystem of what is replaced
   * @param startRemove starts deleting a path on another thread (tests pass one that waits)
   */
  constructor(
    readonly trashDir: string,
    private readonly startRemove: (path: string) => Promise<void> = (p) => Deno.remove(p),
  ) {}

  /** Starts removing `path`; a missing file is no error. */
  remove(path: string): void {
    this.#pending.push(this.startRemove(path).catch(() => {}));
  }

  /**
   * Replaces `path` with `bytes` atomically (a temporary file beside it, then a rename), freeing
   * the file it replaces on another thread. Throws what writing or renaming throws.
   */
  replace(path: string, bytes: Uint8Array | string): void {
    const tmp = tmpPath(path);
    try {
      if (typeof bytes === "string") Deno.writeTextFileSync(tmp, bytes);
      else Deno.writeFileSync(tmp, bytes);
      const old = this.#keepOld(path);
      Deno.renameSync(tmp, path);
      if (old) this.remove(old);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* never created */ }
      throw e;
    }
  }

  /** A second name for `path`'s inode in the trash folder, or null (no such file, no link). */
  #keepOld(path: string): string | null {
    if (!this.#linkable) return null;
    if (!this.#trashReady) {
      Deno.mkdirSync(this.trashDir, { recursive: true });
      this.#trashReady = true;
    }
    const old = tmpPath(join(this.trashDir, "old"));
    try {
      Deno.linkSync(path, old);
      return old;
    } catch (e) {
      // another filesystem, or one without hard links: replacing frees the file here instead
      if (!(e instanceof Deno.errors.NotFound)) this.#linkable = false;
      return null;
    }
  }

  /** Starts removing what a killed process left in the trash folder. */
  sweep(): void {
    try {
      for (const e of Deno.readDirSync(this.trashDir)) this.remove(join(this.trashDir, e.name));
    } catch { /* no trash folder yet */ }
  }

  /** Waits for every removal started so far. */
  async settle(): Promise<void> {
    while (this.#pending.length) await Promise.all(this.#pending.splice(0));
  }
}
