/**
 * Index files written to disk while the rest of a publish runs. On ext4 writing a new 669 KB
 * `Packages` costs about 1.5–2 ms of kernel time (delayed allocation, block by block), as much
 * as the rest of adding one package's main-thread work after the pool check. Each form is
 * therefore handed to an asynchronous write, which runs on another thread, as soon as its bytes
 * are known: `Packages` while xz still compresses, the compressed forms as they are joined. The
 * file goes to a temporary name in the index's `by-hash/SHA256/` folder, where no client looks;
 * `by_hash.ts` links it under its `by-hash/` names once the hashes are known.
 *
 * A publish that fails, finds the file unchanged, or builds its indexes again discards what it
 * staged: {@link StagedWrites.discard} removes every temporary file not taken, so nothing
 * half-written is left behind.
 *
 * @example
 * ```ts
 * const staged = new StagedWrites("repo");
 * try {
 *   staged.stage("dists/stable/main/binary-amd64", "Packages", bytes);
 *   // ... hash, sign ...
 *   const tmp = await staged.take("dists/stable/main/binary-amd64", "Packages");
 * } finally {
 *   await staged.discard();
 * }
 * ```
 *
 * @module
 */

import { tmpPath } from "../engine/durable.ts";
import { ensureDir, removeIfExists } from "../engine/fs_util.ts";
import { join } from "../engine/path.ts";

interface Staged {
  readonly tmp: string;
  /** Settles once the write has finished: null, or what it threw. */
  readonly written: Promise<unknown>;
}

/** Writes in flight to temporary files, by index folder and file name (see the module doc). */
export class StagedWrites {
  readonly #files = new Map<string, Staged>();
  readonly #dropped: Promise<void>[] = [];

  /** `root` is the repository's root; folders given later are relative to it. */
  constructor(readonly root: string) {}

  /** Starts writing `bytes` (which must not change meanwhile) for `<dir>/<name>`. */
  stage(dir: string, name: string, bytes: Uint8Array): void {
    const key = `${dir}/${name}`;
    const before = this.#files.get(key);
    if (before) this.#drop(before);
    const folder = join(this.root, dir, "by-hash", "SHA256");
    ensureDir(folder);
    const tmp = tmpPath(join(folder, name));
    const written = Deno.writeFile(tmp, bytes).then(() => null, (e) => e);
    this.#files.set(key, { tmp, written });
  }

  /**
   * The temporary file staged for `<dir>/<name>` once it is written, now the caller's to link
   * and remove; null when nothing was staged. Throws what the write threw (after removing it).
   */
  async take(dir: string, name: string): Promise<string | null> {
    const key = `${dir}/${name}`;
    const s = this.#files.get(key);
    if (!s) return null;
    this.#files.delete(key);
    const error = await s.written;
    if (error === null) return s.tmp;
    removeIfExists(s.tmp);
    throw error;
  }

  /** Removes every staged file not taken, once its write has finished. */
  async discard(): Promise<void> {
    for (const s of this.#files.values()) this.#drop(s);
    this.#files.clear();
    await Promise.all(this.#dropped.splice(0));
  }

  #drop(s: Staged): void {
    this.#dropped.push(s.written.then(() => void removeIfExists(s.tmp)));
  }
}
