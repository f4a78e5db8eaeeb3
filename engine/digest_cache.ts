/**
 * Digest cache: a file whose (size, mtime ns, inode, ctime ns) is unchanged is never rehashed.
 *
 * The racy-git problem: a file modified within the same timestamp tick as its recorded hash keeps
 * its stat signature. Like git, an entry whose mtime is not older than the moment the cache was
 * last saved (the state file's own mtime, read from the same filesystem clock) is "racy" and is
 * rehashed instead of trusted.
 *
 * @module
 */

import { type FileDigest, hashFile } from "./hash.ts";
import { type FileStat, statFile } from "./stat.ts";

/** Serialized form: relative path -> `sig|digest`. */
export type DigestEntries = Record<string, string>;

/** Digests of workspace files, memoized by stat signature. */
export class DigestCache {
  #entries: DigestEntries;
  #racyFromNs: bigint;
  /** Entries hashed by this process: trusted for its lifetime even if racy on disk. */
  #session = new Set<string>();
  /** Every path asked about this process, for the build stamp. */
  #consulted = new Set<string>();
  #hashed = 0;
  #dirty = false;

  /**
   * @param entries what the last run saved
   * @param racyFromNs mtime (ns) of the file the entries were loaded from: entries whose file
   *   mtime is at or after it are rehashed
   */
  constructor(entries: DigestEntries = {}, racyFromNs = 0n) {
    this.#entries = entries;
    this.#racyFromNs = racyFromNs;
  }

  /** How many files were actually read and hashed (tests and `--explain` use it). */
  get hashedCount(): number {
    return this.#hashed;
  }

  /** True when an entry was added or changed since load. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /**
   * `[path, signature]` of every file asked about this process, with the signature its digest
   * was taken at; a path without a recorded digest has signature `""`.
   */
  consulted(): [string, string][] {
    const out: [string, string][] = [];
    for (const rel of this.#consulted) {
      const e = this.#entries[rel];
      out.push([rel, e === undefined ? "" : e.slice(0, e.lastIndexOf("|"))]);
    }
    return out;
  }

  /** Clears {@link dirty} after the entries were saved. */
  markSaved(): void {
    this.#dirty = false;
  }

  /** The entries to save. */
  toJSON(): DigestEntries {
    return this.#entries;
  }

  /** The cached digest of `rel` if `st` matches its recorded signature and it is not racy. */
  lookup(rel: string, st: FileStat): string | undefined {
    const e = this.#entries[rel];
    if (e === undefined) return undefined;
    const bar = e.lastIndexOf("|");
    if (e.slice(0, bar) !== st.sig) return undefined;
    if (st.mtimeNs >= this.#racyFromNs && !this.#session.has(rel)) return undefined;
    return e.slice(bar + 1);
  }

  /** Records that `rel`, with stat `st`, has `digest`. */
  record(rel: string, st: FileStat, digest: string): void {
    const v = `${st.sig}|${digest}`;
    this.#session.add(rel);
    this.#consulted.add(rel);
    if (this.#entries[rel] !== v) {
      this.#entries[rel] = v;
      this.#dirty = true;
    }
  }

  /** Forgets `rel` (it was deleted or rewritten by kiln). */
  forget(rel: string): void {
    this.#session.delete(rel);
    if (rel in this.#entries) {
      delete this.#entries[rel];
      this.#dirty = true;
    }
  }

  /**
   * Digest of the regular file `abs` (workspace-relative `rel`), hashing only when its stat
   * changed. Returns `null` when the file does not exist. A file that changes while it is being
   * hashed is hashed again, so a recorded digest always matches its recorded signature.
   */
  async digest(rel: string, abs: string, st = statFile(abs)): Promise<string | null> {
    this.#consulted.add(rel);
    for (let attempt = 0; st && attempt < 5; attempt++) {
      const cached = this.lookup(rel, st);
      if (cached !== undefined) return cached;
      let d: FileDigest;
      try {
        d = await hashFile(abs);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw e;
      }
      this.#hashed++;
      const after = statFile(abs);
      if (after && after.sig === st.sig && d.size === st.size) {
        this.record(rel, st, d.digest);
        return d.digest;
      }
      st = after;
    }
    if (!st) return null;
    throw new Error(`File "${abs}" keeps changing while kiln hashes it; stop the writer and retry`);
  }
}
