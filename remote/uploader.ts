/**
 * The write side of a `TieredStore`: uploads a finished task's entry to the remote cache,
 * its blobs first (skipped when the server has them, unless the server's copy was found
 * corrupt in this build), then kiln's entry blob, then the action entry, so the server never
 * holds an entry whose blobs it lacks.
 *
 * A blob is sent from the local CAS when it is there, else from the workspace file it was
 * stored from; either way it is hashed as it is sent, and a file that changed since it was
 * hashed is not uploaded (nor is its entry).
 *
 * @module
 */

import { type Failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";
import type { ActionEntry, LocalStore } from "../engine/store.ts";
import { EMPTY_SHA256, encodeEntry } from "./action_result.ts";
import type { HttpCache } from "./http_cache.ts";
import type { RemoteStats } from "./tiered_store.ts";

/** True for a {@link Failure} value. */
export const isFailure = (v: unknown): v is Failure =>
  typeof v === "object" && v !== null && "reason" in v && "message" in v;

/** What an {@link Uploader} works with; the store owns it all. */
export interface UploaderContext {
  readonly http: HttpCache;
  readonly local: LocalStore;
  readonly secret: string;
  readonly stats: RemoteStats;
  /** Blobs whose copy on the server failed verification in this build. */
  readonly corrupt: ReadonlySet<string>;
  /** Reports a remote error (the store turns the remote off). */
  readonly fail: (f: Failure) => void;
  /** Whether the remote was turned off. */
  readonly off: () => boolean;
}

/** Uploads entries; see the module documentation. */
export class Uploader {
  readonly #x: UploaderContext;
  /** Where each blob of this build came from (digest -> workspace file and size). */
  #sources = new Map<string, { abs: string; size: number }>();
  #blobs = new Map<string, Promise<boolean>>();

  constructor(x: UploaderContext) {
    this.#x = x;
  }

  /** Notes that blob `digest` was stored from the workspace file `abs`. */
  source(abs: string, digest: string, size: number): void {
    this.#sources.set(digest, { abs, size });
  }

  /** Uploads one entry: its blobs, then its entry blob, then the action entry. */
  async upload(entry: ActionEntry): Promise<void> {
    const x = this.#x;
    let logSize: number | undefined;
    if (entry.log) {
      logSize = this.#sources.get(entry.log)?.size ?? statFile(x.local.blobPath(entry.log))?.size;
      if (logSize === undefined) return; // its log is in neither tier: cannot describe it
    }
    const enc = await encodeEntry(entry, x.secret, logSize);
    const ok = await Promise.all([...enc.blobs].map(([d, size]) => this.#blob(d, size)));
    if (x.off() || !ok.every(Boolean)) return;
    const blob = await x.http.putBytes("cas", enc.entryDigest, enc.entryBlob, undefined, {
      force: x.corrupt.has(enc.entryDigest),
    });
    if (isFailure(blob)) return x.fail(blob);
    this.#count(blob);
    const ac = new TextEncoder().encode(enc.json);
    const put = await x.http.putBytes("ac", entry.key, ac, "application/json");
    if (isFailure(put)) return x.fail(put);
    x.stats.uploadedEntries++;
  }

  /** Uploads blob `digest` once per build; whether the server has it afterwards. */
  #blob(digest: string, size: number): Promise<boolean> {
    let p = this.#blobs.get(digest);
    if (!p) {
      p = this.#blobOnce(digest, size);
      this.#blobs.set(digest, p);
    }
    return p;
  }

  #count(r: "stored" | "exists"): true {
    if (r === "stored") this.#x.stats.uploadedBlobs++;
    else this.#x.stats.existingBlobs++;
    return true;
  }

  async #blobOnce(digest: string, size: number): Promise<boolean> {
    const x = this.#x;
    if (size === 0 && digest === EMPTY_SHA256) {
      const r = await x.http.putBytes("cas", digest, new Uint8Array(0));
      return isFailure(r) ? (x.fail(r), false) : this.#count(r);
    }
    // The local CAS copy first: the workspace file may have been changed since.
    const candidates = [x.local.blobPath(digest), this.#sources.get(digest)?.abs];
    for (const path of candidates) {
      if (!path || statFile(path)?.size !== size) continue;
      const r = await x.http.putFile(digest, path, size, { force: x.corrupt.has(digest) });
      if (isFailure(r)) return x.fail(r), false;
      if (r !== "mismatch") return this.#count(r);
    }
    return false; // changed since it was hashed: the entry is not uploaded
  }
}
