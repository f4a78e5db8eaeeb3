/**
 * The local cache store: content-addressed blobs (`cas/`) plus an action cache (`ac/`) mapping a
 * task key to its output manifest. Shared by every workspace on the machine and safe for several
 * kiln processes at once: entries are immutable, written to `tmp/` and renamed into place.
 *
 * Restoring a multi-GB output must cost about as much as a small one: on copy-on-write
 * filesystems (btrfs, XFS, APFS) a copy is a reflink; elsewhere large files are hard-linked
 * read-only. A linked blob remembers its stat signature in a sidecar (`<digest>.seal`) taken when
 * it was stored; if anything writes through a link, the mtime moves, the blob is rehashed and, if
 * it no longer matches, discarded: the store never serves altered bytes.
 *
 * @module
 */

import { recordAccess } from "./access_log.ts";
import { GroupCommit } from "./durable.ts";
import { hashFile } from "./hash.ts";
import type { OutputManifest } from "./outputs.ts";
import { dirname, join } from "./path.ts";
import { type FileStat, statFile } from "./stat.ts";
import { copyOnWriteFilesystem } from "./fs_probe.ts";
import { ensureDir, removeIfExists } from "./fs_util.ts";

/** An action cache entry: a task key's outputs and log. */
export interface ActionEntry {
  readonly v: 1;
  readonly key: string;
  readonly task: string;
  readonly outputs: OutputManifest;
  /** Digest of the action's log blob, `null` when it printed nothing. */
  readonly log: string | null;
  /** Output path -> base64 content, for outputs small enough to inline (see `inline.ts`). */
  readonly inline?: Readonly<Record<string, string>>;
  readonly durationMs: number;
  readonly createdAt: string;
}

/** Files at least this large are linked rather than copied when no reflink is possible. */
export const LINK_THRESHOLD = 1024 * 1024;

/** Why a restore did not happen: the caller reruns the task. */
export type RestoreMiss = "blob-missing" | "blob-corrupt";

/** Where task results are kept between runs. Remote caches implement the same interface. */
export interface CacheStore {
  /**
   * The entry for `key`, or `null`. `expectHit` says the caller has reason to think it exists
   * (the workspace recorded it), so a local store skips its cheap existence check.
   */
  getEntry(key: string, opts?: { expectHit?: boolean }): Promise<ActionEntry | null>;
  putEntry(entry: ActionEntry): Promise<void>;
  /** Stores the file at `abs`, whose digest is `digest`, unless the blob exists. */
  putBlob(abs: string, digest: string, size: number): Promise<void>;
  /**
   * Materializes blob `digest` at `dest` with `mode`; a miss when missing or corrupt. Whatever
   * is at `dest` is removed first (never written through: it may be a link to a blob), unless
   * the caller says it already cleared it.
   */
  restoreBlob(
    digest: string,
    size: number,
    mode: number,
    dest: string,
    opts?: { cleared?: boolean },
  ): Promise<RestoreMiss | null>;
  readBlobText(digest: string): Promise<string | null>;
  /** Deletes the entry for `key` (its inline content was found corrupt). */
  discardEntry(key: string): void;
  /** Makes queued writes durable and visible. */
  flush(): Promise<void>;
  /** Drops queued, unpublished writes (on interrupt). */
  discard(): void;
}

/** The default cache folder: `KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`. */
export function defaultCacheDir(): string {
  const env = Deno.env.get("KILN_CACHE_DIR");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "kiln");
  return join(Deno.env.get("HOME") ?? "/tmp", ".cache", "kiln");
}

/** A blob's seal: its stat signature without ctime, which every new hard link changes. */
function sealOf(st: FileStat): string {
  return `${st.size}:${st.mtimeNs}:${st.ino}`;
}

function sealSig(abs: string): string | null {
  const st = statFile(abs);
  return st && sealOf(st);
}

/** A {@link CacheStore} in a local folder. */
export class LocalStore implements CacheStore {
  readonly dir: string;
  #commit: GroupCommit;
  #cow: boolean | undefined;
  #ready = false;
  #used = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
    this.#commit = new GroupCommit(dir);
  }

  #init(): void {
    if (this.#ready) return;
    for (const d of ["cas", "ac", "tmp"]) Deno.mkdirSync(join(this.dir, d), { recursive: true });
    this.#ready = true;
  }

  /** Path of blob `digest`. */
  blobPath(digest: string): string {
    return join(this.dir, "cas", digest.slice(0, 2), digest);
  }

  /** Path of the action entry for `key`. */
  entryPath(key: string): string {
    return join(this.dir, "ac", key.slice(0, 2), key);
  }

  #tmp(): string {
    return join(this.dir, "tmp", `${Deno.pid}-${crypto.randomUUID()}`);
  }

  async getEntry(key: string, opts?: { expectHit?: boolean }): Promise<ActionEntry | null> {
    const p = this.entryPath(key);
    // A failed stat costs a fifth of a failed read (its error), a stat before a hit is wasted.
    if (!opts?.expectHit && !statFile(p)) return null;
    let text: string;
    try {
      text = Deno.readTextFileSync(p);
    } catch {
      return null;
    }
    try {
      const e = JSON.parse(text) as ActionEntry;
      if (e.v !== 1 || e.key !== key) throw new Error("bad entry");
      this.#used.add(key); // least-recently-used order for gc, logged at flush
      return e;
    } catch {
      await Deno.remove(p).catch(() => {});
      return null;
    }
  }

  putEntry(entry: ActionEntry): Promise<void> {
    this.#init();
    const final = this.entryPath(entry.key);
    ensureDir(dirname(final));
    const tmp = this.#tmp();
    Deno.writeTextFileSync(tmp, JSON.stringify(entry));
    this.#commit.add(tmp, final);
    return Promise.resolve();
  }

  async putBlob(abs: string, digest: string, size: number): Promise<void> {
    this.#init();
    const final = this.blobPath(digest);
    if (statFile(final)?.size === size) return;
    ensureDir(dirname(final));
    const tmp = this.#tmp();
    const before = statFile(abs);
    if (size < LINK_THRESHOLD) Deno.copyFileSync(abs, tmp);
    else await Deno.copyFile(abs, tmp);
    if (before?.sig !== statFile(abs)?.sig) {
      // The source changed while it was copied: the copy may not match `digest`.
      await Deno.remove(tmp).catch(() => {});
      return;
    }
    const st = statFile(tmp)!;
    Deno.chmodSync(tmp, st.mode & 0o111 ? 0o555 : 0o444);
    if (size >= LINK_THRESHOLD) {
      const seal = `${tmp}.seal`;
      Deno.writeTextFileSync(seal, sealSig(tmp)!);
      this.#commit.add(tmp, final);
      this.#commit.add(seal, `${final}.seal`);
    } else this.#commit.add(tmp, final);
  }

  async #verify(path: string, st: FileStat, digest: string, size: number): Promise<boolean> {
    if (st.size !== size) return false;
    if (size >= LINK_THRESHOLD) {
      try {
        if (Deno.readTextFileSync(`${path}.seal`) === sealOf(st)) return true;
      } catch { /* no seal: hash it */ }
    }
    const ok = (await hashFile(path)).digest === digest;
    if (ok && size >= LINK_THRESHOLD) Deno.writeTextFileSync(`${path}.seal`, sealSig(path)!);
    return ok;
  }

  async restoreBlob(
    digest: string,
    size: number,
    mode: number,
    dest: string,
    opts?: { cleared?: boolean },
  ): Promise<RestoreMiss | null> {
    const blob = this.blobPath(digest);
    const st = statFile(blob);
    if (!st) return "blob-missing";
    if (!await this.#verify(blob, st, digest, size)) {
      await Deno.remove(blob).catch(() => {});
      await Deno.remove(`${blob}.seal`).catch(() => {});
      return "blob-corrupt";
    }
    ensureDir(dirname(dest));
    if (!opts?.cleared) removeIfExists(dest);
    this.#cow ??= copyOnWriteFilesystem(this.dir);
    const execMatches = ((mode & 0o111) !== 0) === ((st.mode & 0o111) !== 0);
    if (size >= LINK_THRESHOLD && !this.#cow && execMatches) {
      try {
        Deno.linkSync(blob, dest); // read-only: the blob's mode
        return null;
      } catch { /* another filesystem: copy */ }
    }
    Deno.copyFileSync(blob, dest);
    Deno.chmodSync(dest, mode);
    return null;
  }

  /**
   * A fresh path in the store's `tmp/` folder, on the CAS's filesystem, so that a file written
   * there (a download from a remote cache) enters the CAS by one rename in {@link adoptBlob}.
   */
  tmpPath(): string {
    this.#init();
    return this.#tmp();
  }

  /**
   * Moves `tmp` (from {@link tmpPath}; the caller checked that its bytes hash to `digest`) into
   * the CAS at once and durably, read-only, with its seal when large. Unlike {@link putBlob},
   * which publishes at the next flush, the blob can be restored right away: a remote cache
   * downloads a blob and restores it in the same call.
   *
   * @example
   * ```ts
   * const tmp = store.tmpPath();
   * // ... download the blob to tmp, hashing it ...
   * await store.adoptBlob(tmp, digest, size, 0o755);
   * await store.restoreBlob(digest, size, 0o755, dest);
   * ```
   */
  async adoptBlob(tmp: string, digest: string, size: number, mode = 0o644): Promise<void> {
    const final = this.blobPath(digest);
    if (statFile(final)?.size === size) {
      await Deno.remove(tmp).catch(() => {});
      return;
    }
    ensureDir(dirname(final));
    Deno.chmodSync(tmp, mode & 0o111 ? 0o555 : 0o444);
    {
      using f = await Deno.open(tmp, { read: true });
      await f.sync();
    }
    Deno.renameSync(tmp, final);
    // A rename keeps the inode and mtime the seal records: restores need not rehash it.
    if (size >= LINK_THRESHOLD) Deno.writeTextFileSync(`${final}.seal`, sealSig(final)!);
  }

  discardEntry(key: string): void {
    removeIfExists(this.entryPath(key));
  }

  async readBlobText(digest: string): Promise<string | null> {
    try {
      return await Deno.readTextFile(this.blobPath(digest));
    } catch {
      return null;
    }
  }

  async flush(): Promise<void> {
    await this.#commit.commit();
    if (this.#used.size) {
      recordAccess(this.dir, this.#used);
      this.#used.clear();
    }
  }

  discard(): void {
    this.#commit.discard();
  }

  /** Number of queued, unpublished writes. */
  get pending(): number {
    return this.#commit.size;
  }
}
