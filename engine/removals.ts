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

import { replaceFileAtomic, tmpPath } from "./durable.ts";
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
  readonly #prepared = new Map<string, Prepared>();

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
    const prepared = this.#prepared.get(path);
    this.#prepared.delete(path);
    if (prepared?.file && prepared.old !== undefined) return this.#replaceAs(prepared, path, bytes);
    if (prepared) this.#discard(prepared); // still being prepared: replaced the plain way
    let old: string | null = null;
    try {
      replaceFileAtomic(path, bytes, () => old = this.#keepOld(path));
    } finally {
      if (old) this.remove(old); // replaced, or still in place if the rename failed
    }
  }

  /**
   * Starts preparing to {@link replace} `path` on other threads: its temporary file created and
   * the current file linked into the trash, the file system work that a replace would otherwise
   * do on this thread. Meant for while this thread computes (creating files and renaming them
   * serialize in ext4, so preparing them while this thread does the same gains nothing). What
   * is not used is removed by {@link settle}. Settles once it is prepared (whether or not that
   * worked: {@link replace} then does it all).
   */
  prepare(path: string): Promise<void> {
    const had = this.#prepared.get(path);
    if (had) return had.ready;
    const tmp = tmpPath(path);
    const p: Prepared = { tmp, file: undefined, old: undefined, ready: Promise.resolve() };
    const file = Deno.open(tmp, { write: true, createNew: true }).then(
      (f) => void (p.file = f),
      () => void (p.file = null),
    );
    const trash = this.#trashName();
    const old = trash === null ? Promise.resolve(void (p.old = null)) : Deno.link(path, trash).then(
      () => void (p.old = trash),
      (e) => void (p.old = this.#linkFailed(e)),
    );
    p.ready = Promise.all([file, old]).then(() => {});
    this.#prepared.set(path, p);
    return p.ready;
  }

  /** Replaces `path` by what {@link prepare} made ready. */
  #replaceAs(p: Prepared, path: string, bytes: Uint8Array | string): void {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    try {
      for (let at = 0; at < data.length;) at += p.file!.writeSync(data.subarray(at));
      p.file!.close();
      p.file = null;
      Deno.renameSync(p.tmp, path);
      if (p.old) this.remove(p.old);
    } catch (e) {
      this.#discard(p);
      throw e;
    }
  }

  /** Removes what preparing `p` made, once it is made. */
  #discard(p: Prepared): void {
    this.#pending.push(p.ready.then(() => {
      p.file?.close();
      p.file = null;
      this.remove(p.tmp);
      if (p.old) this.remove(p.old);
    }));
  }

  /** A fresh name in the trash folder (made on first use), or null when links do not work. */
  #trashName(): string | null {
    if (!this.#linkable) return null;
    if (!this.#trashReady) {
      Deno.mkdirSync(this.trashDir, { recursive: true });
      this.#trashReady = true;
    }
    return tmpPath(join(this.trashDir, "old"));
  }

  /** A second name for `path`'s inode in the trash folder, or null (no such file, no link). */
  #keepOld(path: string): string | null {
    const old = this.#trashName();
    if (old === null) return null;
    try {
      Deno.linkSync(path, old);
      return old;
    } catch (e) {
      return this.#linkFailed(e);
    }
  }

  /**
   * After a trash link failed: no file to keep is fine, but another filesystem, or one without
   * hard links, means replacing frees the old file here from now on. Always null.
   */
  #linkFailed(e: unknown): null {
    if (!(e instanceof Deno.errors.NotFound)) this.#linkable = false;
    return null;
  }

  /** Starts removing what a killed process left in the trash folder. */
  sweep(): void {
    try {
      for (const e of Deno.readDirSync(this.trashDir)) this.remove(join(this.trashDir, e.name));
    } catch { /* no trash folder yet */ }
  }

  /** Waits for every removal started so far, removing what was prepared and not used. */
  async settle(): Promise<void> {
    for (const p of this.#prepared.values()) this.#discard(p);
    this.#prepared.clear();
    while (this.#pending.length) await Promise.all(this.#pending.splice(0));
  }
}

/**
 * Removes `path` through `removals` (on another thread) or, without them, here; a missing file is
 * no error.
 */
export function removeVia(removals: Removals | undefined, path: string): void {
  if (removals) return removals.remove(path);
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

/** Replaces `path` atomically through `removals` or, without them, with `replaceFileAtomic`. */
export function replaceVia(
  removals: Removals | undefined,
  path: string,
  bytes: Uint8Array | string,
): void {
  if (removals) removals.replace(path, bytes);
  else replaceFileAtomic(path, bytes);
}

/** A replacement {@link Removals.prepare} is making ready: `undefined` while still being made. */
interface Prepared {
  readonly tmp: string;
  /** The temporary file, open for writing; null if it could not be made. */
  file: Deno.FsFile | null | undefined;
  /** The trash name of the file being replaced; null if there is none. */
  old: string | null | undefined;
  /** Settles once both are made. */
  ready: Promise<void>;
}
