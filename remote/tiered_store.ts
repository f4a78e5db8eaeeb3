/**
 * A {@link CacheStore} in two tiers: the machine's {@link LocalStore} first, then a shared
 * remote cache (Bazel HTTP layout, see `http_cache.ts`).
 *
 * - Reads: an entry missing locally is fetched from the remote, its signature and blobs
 *   verified, and written to the local store at the next flush (once its restore worked); a
 *   blob missing locally is downloaded into the local CAS (or, with `local:r`/`local:off`,
 *   straight to its destination), verified while it streams.
 * - Writes (`remote:rw`): entries are uploaded at `flush()`, after the local store published
 *   them, blobs first (skipped when the server has them) and the action entry last, so a
 *   remote entry never names a blob the server lacks. `flush()` waits for the uploads: the
 *   build's last flush leaves nothing behind.
 * - Problems: a remote error (unreachable, 5xx after retries, 401/403...) is one warning, then
 *   the remote is off for the rest of the build, which goes on with the local tier. An entry
 *   that fails verification or a blob whose digest does not match is a warning naming its key
 *   or digest, and a miss: the task runs.
 *
 * @example
 * ```ts
 * const store = new TieredStore({
 *   local: new LocalStore(defaultCacheDir()), localAccess: "rw",
 *   remote: { url: "http://cache:9090/" }, remoteAccess: "rw", secret,
 *   warn: (m) => console.warn(m),
 * });
 * await runBuild(graph, { ...options, store });
 * ```
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { ensureDir, removeIfExists } from "../engine/fs_util.ts";
import { dirname } from "../engine/path.ts";
import type { ActionEntry, CacheStore, LocalStore, RestoreMiss } from "../engine/store.ts";
import { assembleEntry, readActionResult } from "./action_result.ts";
import type { CacheAccess } from "./config.ts";
import { HttpCache, type HttpCacheOptions, shortHash } from "./http_cache.ts";
import { isFailure, Uploader } from "./uploader.ts";

/** Options of {@link TieredStore}. */
export interface TieredStoreOptions {
  readonly local: LocalStore;
  readonly localAccess: CacheAccess;
  /** The remote cache client's options (its `signal` is the store's own). */
  readonly remote: Omit<HttpCacheOptions, "signal">;
  readonly remoteAccess: "r" | "rw";
  /** `KILN_REMOTE_CACHE_KEY`. */
  readonly secret: string;
  /** Shows one line to the person building. */
  readonly warn: (message: string) => void;
}

/** What the remote tier did in this build. */
export interface RemoteStats {
  hits: number;
  misses: number;
  /** Entries or blobs ignored because they failed verification. */
  rejected: number;
  downloadedBytes: number;
  uploadedBlobs: number;
  /** Uploads skipped because the server had the blob. */
  existingBlobs: number;
  uploadedEntries: number;
}

const MAX_ACTION_RESULT = 64 * 1024 * 1024;
const MAX_LOG = 512 * 1024 * 1024;

/** A local store backed by a shared remote cache; see the module documentation. */
export class TieredStore implements CacheStore {
  /** What the remote tier did so far. */
  readonly stats: RemoteStats = {
    hits: 0,
    misses: 0,
    rejected: 0,
    downloadedBytes: 0,
    uploadedBlobs: 0,
    existingBlobs: 0,
    uploadedEntries: 0,
  };
  readonly #o: TieredStoreOptions;
  readonly #http: HttpCache;
  readonly #abort = new AbortController();
  #off = false;
  #pending: ActionEntry[] = [];
  /** Entries fetched from the remote, written locally at flush unless a restore failed. */
  #fetched = new Map<string, ActionEntry>();
  #failedBlobs = new Set<string>();
  /** Blobs the server holds corrupt: uploaded again without asking whether it has them. */
  #corruptRemote = new Set<string>();
  readonly #uploader: Uploader;
  #uploads = new Set<Promise<unknown>>();
  #downloads = new Map<string, Promise<"ok" | "missing" | "mismatch">>();

  constructor(o: TieredStoreOptions) {
    this.#o = o;
    this.#http = new HttpCache({ ...o.remote, signal: this.#abort.signal });
    this.#uploader = new Uploader({
      http: this.#http,
      local: o.local,
      secret: o.secret,
      stats: this.stats,
      corrupt: this.#corruptRemote,
      fail: (f) => this.#fail(f),
      off: () => this.#off,
    });
  }

  /** The remote's URL as messages show it (no credentials). */
  get remoteLabel(): string {
    return this.#http.label;
  }

  /** False once a remote error turned the remote tier off for this build. */
  get remoteActive(): boolean {
    return !this.#off;
  }

  get #localReads(): boolean {
    return this.#o.localAccess !== "off";
  }
  get #localWrites(): boolean {
    return this.#o.localAccess === "rw";
  }
  get #remoteWrites(): boolean {
    return this.#o.remoteAccess === "rw" && !this.#off;
  }

  /** A remote error: one warning, then no more remote work in this build. */
  #fail(f: Failure): void {
    if (this.#off) return;
    this.#off = true;
    this.#pending = [];
    this.#o.warn(`${f.message}; building without the remote cache from here on`);
  }

  #reject(message: string): void {
    this.stats.rejected++;
    this.#o.warn(message);
  }

  /** Runs remote work; an exception (a bug, or a local disk error) counts as a remote error. */
  async #guard<T>(work: () => Promise<T>, otherwise: T): Promise<T> {
    if (this.#off) return otherwise;
    try {
      return await work();
    } catch (e) {
      this.#fail(failure(
        "remote-error",
        `Remote cache "${this.#http.label}": ${(e as Error)?.message ?? e}`,
      ));
      return otherwise;
    }
  }

  async getEntry(key: string, opts?: { expectHit?: boolean }): Promise<ActionEntry | null> {
    if (this.#localReads) {
      const e = await this.#o.local.getEntry(key, opts);
      if (e) return e;
    }
    return await this.#guard(() => this.#fetchEntry(key), null);
  }

  async #fetchEntry(key: string): Promise<ActionEntry | null> {
    const got = await this.#http.getBytes("ac", key, MAX_ACTION_RESULT);
    if (isFailure(got)) return this.#fail(got), null;
    if (got === "missing" || got === "mismatch") return this.stats.misses++, null;
    const ref = await readActionResult(new TextDecoder().decode(got), key, this.#o.secret);
    if (isFailure(ref)) return this.#reject(ref.message), null;
    const blob = await this.#http.getBytes("cas", ref.entryDigest, ref.entrySize);
    if (isFailure(blob)) return this.#fail(blob), null;
    if (blob === "missing") return this.stats.misses++, null;
    if (blob === "mismatch" || blob.length !== ref.entrySize) {
      this.#corruptRemote.add(ref.entryDigest);
      this.#reject(
        `Remote cache blob "${shortHash(ref.entryDigest)}" (entry of "${
          shortHash(key)
        }") does not match its digest; ignored it`,
      );
      return null;
    }
    const entry = assembleEntry(ref, blob, key);
    if (isFailure(entry)) return this.#reject(entry.message), null;
    this.stats.hits++;
    if (this.#localWrites) this.#fetched.set(key, entry);
    return entry;
  }

  async restoreBlob(
    digest: string,
    size: number,
    mode: number,
    dest: string,
    opts?: { cleared?: boolean },
  ): Promise<RestoreMiss | null> {
    let miss: RestoreMiss = "blob-missing";
    if (this.#localReads) {
      const m = await this.#o.local.restoreBlob(digest, size, mode, dest, opts);
      if (!m) return null;
      miss = m;
    }
    const out = await this.#guard(async (): Promise<RestoreMiss | null> => {
      if (!this.#localWrites) return await this.#downloadTo(digest, size, mode, dest, opts);
      const got = await this.#download(digest, size, mode);
      if (got !== "ok") return got === "mismatch" ? "blob-corrupt" : miss;
      return await this.#o.local.restoreBlob(digest, size, mode, dest, opts);
    }, miss);
    if (out) this.#failedBlobs.add(digest);
    return out;
  }

  /** Downloads blob `digest` into the local CAS, once however many restores want it. */
  #download(digest: string, size: number, mode: number): Promise<"ok" | "missing" | "mismatch"> {
    let p = this.#downloads.get(digest);
    if (!p) {
      p = (async () => {
        const tmp = this.#o.local.tmpPath();
        const got = await this.#fetchFile(digest, tmp, size);
        if (got === "ok") await this.#o.local.adoptBlob(tmp, digest, size, mode);
        return got;
      })().finally(() => this.#downloads.delete(digest));
      this.#downloads.set(digest, p);
    }
    return p;
  }

  /** Downloads blob `digest` to `dest` itself (the local tier does not keep it). */
  async #downloadTo(
    digest: string,
    size: number,
    mode: number,
    dest: string,
    opts?: { cleared?: boolean },
  ): Promise<RestoreMiss | null> {
    ensureDir(dirname(dest));
    const tmp = `${dirname(dest)}/.kiln-remote-${crypto.randomUUID()}`;
    const got = await this.#fetchFile(digest, tmp, size);
    if (got !== "ok") return got === "mismatch" ? "blob-corrupt" : "blob-missing";
    Deno.chmodSync(tmp, mode);
    if (!opts?.cleared) removeIfExists(dest);
    Deno.renameSync(tmp, dest);
    return null;
  }

  async #fetchFile(digest: string, path: string, size: number) {
    const got = await this.#http.getFile(digest, path, size);
    if (isFailure(got)) {
      this.#fail(got);
      return "missing" as const;
    }
    if (got === "mismatch") {
      this.#corruptRemote.add(digest);
      this.#reject(
        `Remote cache blob "${shortHash(digest)}" does not match its digest; discarded it`,
      );
    } else if (got === "ok") this.stats.downloadedBytes += size;
    return got;
  }

  async readBlobText(digest: string): Promise<string | null> {
    if (this.#localReads) {
      const t = await this.#o.local.readBlobText(digest);
      if (t !== null) return t;
    }
    return await this.#guard(async () => {
      const got = await this.#http.getBytes("cas", digest, MAX_LOG);
      if (isFailure(got)) return this.#fail(got), null;
      if (got === "missing") return null;
      if (got === "mismatch") {
        this.#corruptRemote.add(digest);
        this.#reject(
          `Remote cache blob "${shortHash(digest)}" does not match its digest; discarded it`,
        );
        return null;
      }
      this.stats.downloadedBytes += got.length;
      if (this.#localWrites) {
        const tmp = this.#o.local.tmpPath();
        Deno.writeFileSync(tmp, got);
        await this.#o.local.adoptBlob(tmp, digest, got.length);
      }
      return new TextDecoder().decode(got);
    }, null);
  }

  async putBlob(abs: string, digest: string, size: number): Promise<void> {
    if (this.#localWrites) await this.#o.local.putBlob(abs, digest, size);
    if (this.#remoteWrites) this.#uploader.source(abs, digest, size);
  }

  async putEntry(entry: ActionEntry): Promise<void> {
    if (this.#localWrites) await this.#o.local.putEntry(entry);
    this.#fetched.delete(entry.key);
    if (this.#remoteWrites) this.#pending.push(entry);
  }

  discardEntry(key: string): void {
    this.#fetched.delete(key);
    if (this.#localWrites) this.#o.local.discardEntry(key);
  }

  async flush(): Promise<void> {
    if (this.#localWrites) {
      for (const e of this.#fetched.values()) {
        const restored = e.outputs.files.every((f) => !this.#failedBlobs.has(f.digest));
        if (restored) await this.#o.local.putEntry(e);
      }
      this.#fetched.clear();
      await this.#o.local.flush();
    }
    const batch = this.#pending;
    this.#pending = [];
    for (const e of batch) {
      const p = this.#guard(() => this.#uploader.upload(e), undefined).finally(() =>
        this.#uploads.delete(p)
      );
      this.#uploads.add(p);
    }
    while (this.#uploads.size) await Promise.all([...this.#uploads]);
  }

  discard(): void {
    if (this.#localWrites) this.#o.local.discard();
    this.#pending = [];
    this.#fetched.clear();
    this.#off = true; // quietly: an interrupt is not a remote error
    this.#abort.abort();
  }
}
