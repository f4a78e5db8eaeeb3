/**
 * Maintenance of a local cache folder (see `LocalStore`): statistics, integrity checks,
 * least-recently-used garbage collection and wiping, for `kiln cache stats|verify|gc|clean`.
 *
 * Other kiln processes may be building against the same folder while these run, so every walk
 * treats a file that vanishes under it as already handled (another process removed it), and gc
 * leaves alone anything written within a grace period: a build stores its blobs first and its
 * action entry last, and a blob that no entry references yet may be one it is about to publish.
 *
 * @module
 */

import { compactAccess, readAccess } from "./access_log.ts";
import { hashFile } from "./hash.ts";
import { decodeInline } from "./inline.ts";
import type { ActionEntry } from "./store.ts";
import { join } from "./path.ts";
import { type FileStat, statFile } from "./stat.ts";

/** What a cache folder holds, for `kiln cache stats`. */
export interface CacheStats {
  readonly dir: string;
  /** Action entries (`ac/`). */
  readonly entries: number;
  /** Content-addressed blobs (`cas/`), seals not included. */
  readonly blobs: number;
  /** Total size of the blobs; hard-linked blobs are counted at full size. */
  readonly blobBytes: number;
  /** Files in `tmp/`: writes in progress, or left behind by a killed process. */
  readonly tmpFiles: number;
  /** Last use of the least recently used entry; `null` when there are none. */
  readonly oldestEntry: Date | null;
  /** Last use of the most recently used entry; `null` when there are none. */
  readonly newestEntry: Date | null;
}

/** Result of {@link verifyCache}. */
export interface VerifyReport {
  readonly blobsChecked: number;
  /** Digests of blobs whose content does not hash to their name, sorted. */
  readonly corruptBlobs: string[];
  /**
   * Keys of entries that cannot be used, sorted: unparseable, stored under another key,
   * or referencing a blob that is missing, corrupt or of another size than recorded.
   */
  readonly brokenEntries: string[];
}

/** Result of {@link gcCache}. */
export interface GcReport {
  readonly entriesRemoved: number;
  readonly blobsRemoved: number;
  /** Total blob size before collection. */
  readonly bytesBefore: number;
  /** Total blob size after; above the limit when blobs within the grace period were kept. */
  readonly bytesAfter: number;
}

const DIGEST = /^[0-9a-f]{64}$/;
const SEAL = ".seal";
const HOUR_MS = 60 * 60 * 1000;

function isNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

/** Names in folder `dir`; none when it does not exist (or vanished). */
function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** A regular file found in a two-level shard folder (`cas/xx/name`, `ac/xx/name`). */
interface Sharded {
  readonly shard: string;
  readonly name: string;
  readonly path: string;
  readonly st: FileStat;
}

function* sharded(root: string): Generator<Sharded> {
  for (const shard of names(root)) {
    const dir = join(root, shard);
    if (statFile(dir)?.kind !== "dir") continue;
    for (const name of names(dir)) {
      if (name.startsWith(".")) continue;
      const path = join(dir, name);
      const st = statFile(path);
      if (st?.kind === "file") yield { shard, name, path, st };
    }
  }
}

/** A blob file: named by its digest, in the shard of its first two hex digits. */
function isBlob(f: Sharded): boolean {
  return DIGEST.test(f.name) && f.shard === f.name.slice(0, 2);
}

function mtimeMs(st: FileStat): number {
  return Number(st.mtimeNs / 1_000_000n);
}

/**
 * When a file was last written or moved, for the grace period. The ctime, since the mtime of a
 * blob may be anything (copied with its times, touched through a hard link); every write, chmod
 * and rename moves the ctime to the present. The mtime is the fallback when there is no ctime.
 */
function changedMs(st: FileStat): number {
  return st.ctimeNs > 0n ? Number(st.ctimeNs / 1_000_000n) : mtimeMs(st);
}

async function removeQuietly(path: string, recursive = false): Promise<boolean> {
  try {
    await Deno.remove(path, { recursive });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Parses an entry file; `null` when unreadable, malformed or stored under another key. */
function readEntry(f: Sharded): ActionEntry | null | "gone" {
  let text: string;
  try {
    text = Deno.readTextFileSync(f.path);
  } catch (e) {
    if (isNotFound(e)) return "gone";
    return null;
  }
  try {
    const e = JSON.parse(text) as ActionEntry;
    const ok = e !== null && typeof e === "object" && e.v === 1 && e.key === f.name &&
      f.shard === f.name.slice(0, 2) && Array.isArray(e.outputs?.files) &&
      e.outputs.files.every((o) => typeof o?.digest === "string");
    return ok ? e : null;
  } catch {
    return null;
  }
}

/** The blobs an entry needs, with the sizes it recorded (`-1` for the log, of any size). */
function referenced(e: ActionEntry): Map<string, number> {
  const refs = new Map<string, number>();
  for (const f of e.outputs.files) if (e.inline?.[f.path] === undefined) refs.set(f.digest, f.size);
  if (typeof e.log === "string") refs.set(e.log, refs.get(e.log) ?? -1);
  return refs;
}

/**
 * Counts the entries, blobs and temporary files of cache folder `dir`, so a user can see what
 * the cache costs before deciding on a gc limit. A missing folder is an empty cache.
 *
 * @example
 * ```ts
 * const s = cacheStats(defaultCacheDir());
 * console.log(`${s.entries} entries, ${s.blobBytes} bytes`);
 * ```
 */
export function cacheStats(dir: string): CacheStats {
  let entries = 0, blobs = 0, blobBytes = 0;
  let oldest: number | null = null, newest: number | null = null;
  for (const f of sharded(join(dir, "ac"))) {
    entries++;
    const t = mtimeMs(f.st);
    if (oldest === null || t < oldest) oldest = t;
    if (newest === null || t > newest) newest = t;
  }
  for (const f of sharded(join(dir, "cas"))) {
    if (!isBlob(f)) continue;
    blobs++;
    blobBytes += f.st.size;
  }
  return {
    dir,
    entries,
    blobs,
    blobBytes,
    tmpFiles: names(join(dir, "tmp")).length,
    oldestEntry: oldest === null ? null : new Date(oldest),
    newestEntry: newest === null ? null : new Date(newest),
  };
}

/**
 * Rehashes every blob of cache folder `dir` and checks that every entry can be restored, since
 * a disk error or a write through a hard-linked output can alter the store silently. Restores
 * would catch a corrupt blob too, one at a time; this finds them all at once.
 *
 * With `repair`, corrupt blobs (and their seals) and broken entries are deleted, so the tasks
 * concerned run again on the next build instead of failing a restore.
 *
 * @example
 * ```ts
 * const r = await verifyCache(defaultCacheDir(), { repair: true });
 * if (r.corruptBlobs.length) console.log(`removed ${r.corruptBlobs.length} corrupt blobs`);
 * ```
 */
export async function verifyCache(
  dir: string,
  opts: { repair?: boolean } = {},
): Promise<VerifyReport> {
  const cas = join(dir, "cas");
  const sizes = new Map<string, number>(); // intact blobs
  const corrupt: string[] = [];
  let blobsChecked = 0;
  for (const f of sharded(cas)) {
    if (!isBlob(f)) continue;
    let digest: string;
    try {
      digest = (await hashFile(f.path)).digest;
    } catch (e) {
      if (isNotFound(e)) continue; // removed by another process meanwhile
      throw e;
    }
    blobsChecked++;
    if (digest === f.name) sizes.set(f.name, f.st.size);
    else {
      corrupt.push(f.name);
      if (opts.repair) {
        await removeQuietly(f.path);
        await removeQuietly(f.path + SEAL);
      }
    }
  }
  const corruptSet = new Set(corrupt);
  const broken: string[] = [];
  for (const f of sharded(join(dir, "ac"))) {
    const e = readEntry(f);
    if (e === "gone") continue;
    let ok = e !== null;
    if (e) {
      // Inline content must match the digest its entry gives.
      for (const f of e.outputs.files) {
        const text = e.inline?.[f.path];
        if (text !== undefined && !decodeInline(text, f.digest, f.size)) ok = false;
      }
      for (const [digest, size] of ok ? referenced(e) : []) {
        let actual = sizes.get(digest);
        if (actual === undefined && !corruptSet.has(digest)) {
          // Possibly stored after the blob walk, by a concurrent build.
          const st = statFile(join(cas, digest.slice(0, 2), digest));
          if (st?.kind === "file") actual = st.size;
        }
        if (actual === undefined || (size >= 0 && actual !== size)) {
          ok = false;
          break;
        }
      }
    }
    if (ok) continue;
    broken.push(f.name);
    if (opts.repair) await removeQuietly(f.path);
  }
  return { blobsChecked, corruptBlobs: corrupt.sort(), brokenEntries: broken.sort() };
}

interface EntryInfo {
  readonly path: string;
  readonly key: string;
  readonly mtimeNs: bigint;
  /** Later of creation and last logged use (ns). */
  readonly lastUse: bigint;
  readonly refs: readonly string[];
}

/**
 * Shrinks cache folder `dir` to at most `maxBytes` of blobs by forgetting the least recently
 * used entries first (an entry's last use is its creation or its latest line in `access.log`), then deleting the
 * blobs that no remaining entry references. The cache otherwise only grows.
 *
 * Blobs written within `graceMs` (default one hour) are kept even when unreferenced, as are the
 * blobs of entries used within it, and so are temporary files: a concurrent build may have
 * stored blobs whose entry it has not published yet. Older temporary files are leftovers of
 * killed processes and are deleted. `now` replaces the clock, for tests.
 *
 * @example
 * ```ts
 * const r = await gcCache(defaultCacheDir(), parseSize("10G")!);
 * console.log(`${r.bytesBefore} -> ${r.bytesAfter} bytes`);
 * ```
 */
export async function gcCache(
  dir: string,
  maxBytes: number,
  opts: { graceMs?: number; now?: () => number } = {},
): Promise<GcReport> {
  if (!(maxBytes >= 0)) throw new RangeError(`gcCache: maxBytes must be >= 0, got ${maxBytes}`);
  const graceMs = opts.graceMs ?? HOUR_MS;
  const now = (opts.now ?? Date.now)();
  const young = (ms: number) => now - ms < graceMs;
  const cas = join(dir, "cas");

  const blobs = new Map<string, { path: string; size: number; changedMs: number }>();
  const seals: Sharded[] = [];
  let bytesBefore = 0;
  for (const f of sharded(cas)) {
    if (isBlob(f)) {
      blobs.set(f.name, { path: f.path, size: f.st.size, changedMs: changedMs(f.st) });
      bytesBefore += f.st.size;
    } else if (f.name.endsWith(SEAL)) seals.push(f);
  }

  // Entries, least recently used first, with reference counts of the blobs they need.
  let entriesRemoved = 0;
  const entries: EntryInfo[] = [];
  const refCount = new Map<string, number>();
  const protectedBlobs = new Set<string>();
  let liveBytes = 0;
  const addRefs = (refs: readonly string[]) => {
    for (const d of refs) {
      const n = refCount.get(d) ?? 0;
      refCount.set(d, n + 1);
      if (n === 0) liveBytes += blobs.get(d)?.size ?? 0;
    }
  };
  const dropRefs = (refs: readonly string[]) => {
    for (const d of refs) {
      const n = refCount.get(d)! - 1;
      refCount.set(d, n);
      if (n === 0) liveBytes -= blobs.get(d)?.size ?? 0;
    }
  };
  const access = readAccess(dir);
  for (const f of sharded(join(dir, "ac"))) {
    const e = readEntry(f);
    if (e === "gone") continue;
    if (e === null) {
      // Unusable: a build reading it would delete it too.
      if (!young(changedMs(f.st)) && await removeQuietly(f.path)) entriesRemoved++;
      continue;
    }
    const refs = [...referenced(e).keys()];
    const key = f.path.slice(f.path.lastIndexOf("/") + 1);
    const used = BigInt(access.get(key) ?? 0) * 1_000_000n;
    const lastUse = used > f.st.mtimeNs ? used : f.st.mtimeNs;
    if (young(Number(lastUse / 1_000_000n))) { for (const d of refs) protectedBlobs.add(d); }
    entries.push({ path: f.path, key, mtimeNs: f.st.mtimeNs, lastUse, refs });
    addRefs(refs);
  }
  entries.sort((a, b) =>
    a.lastUse < b.lastUse ? -1 : a.lastUse > b.lastUse ? 1 : a.path < b.path ? -1 : 1
  );

  for (const e of entries) {
    if (liveBytes <= maxBytes) break;
    const st = statFile(e.path);
    if (st && st.mtimeNs !== e.mtimeNs) continue; // used by a build since it was listed: keep it
    dropRefs(e.refs);
    if (st && await removeQuietly(e.path)) entriesRemoved++;
    access.delete(e.key);
  }
  compactAccess(dir, access);

  let blobsRemoved = 0, bytesRemoved = 0;
  for (const [digest, b] of blobs) {
    if ((refCount.get(digest) ?? 0) > 0 || protectedBlobs.has(digest) || young(b.changedMs)) {
      continue;
    }
    if (await removeQuietly(b.path)) {
      blobsRemoved++;
      bytesRemoved += b.size;
    }
    await removeQuietly(b.path + SEAL);
  }
  for (const s of seals) {
    const digest = s.name.slice(0, -SEAL.length);
    if (blobs.has(digest) || young(changedMs(s.st))) continue;
    if (!statFile(join(cas, s.shard, digest))) await removeQuietly(s.path); // orphaned
  }

  const tmp = join(dir, "tmp");
  for (const name of names(tmp)) {
    const st = statFile(join(tmp, name));
    if (st && !young(changedMs(st))) await removeQuietly(join(tmp, name), true);
  }

  return { entriesRemoved, blobsRemoved, bytesBefore, bytesAfter: bytesBefore - bytesRemoved };
}

const UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * Parses a size such as a gc limit given on the command line: a number of bytes with an
 * optional binary unit (K, M, G, T: powers of 1024, any case, optionally followed by `B` or
 * `iB`). `null` when malformed, so the caller can say what it expected.
 *
 * @example
 * ```ts
 * parseSize("10G"); // 10737418240
 * parseSize("1.5GiB"); // 1610612736
 * parseSize("2048"); // 2048
 * parseSize("ten"); // null
 * ```
 */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/**
 * Empties cache folder `dir` (keeping the folder), for when the cache is suspect or its space is
 * needed at once. Builds running meanwhile lose their unpublished writes and rerun tasks later.
 * A missing folder is already clean.
 *
 * Refuses a non-empty folder with neither `cas/` nor `ac/`: a misconfigured `KILN_CACHE_DIR`
 * pointing at, say, the home folder must not be wiped.
 *
 * @example
 * ```ts
 * await cleanCache(defaultCacheDir());
 * ```
 */
export async function cleanCache(dir: string): Promise<void> {
  const children = names(dir);
  if (children.length === 0) return;
  if (!children.includes("cas") && !children.includes("ac")) {
    throw new Error(
      `Refusing to clean "${dir}": it does not look like a kiln cache folder (no cas/ or ac/)`,
    );
  }
  for (const name of children) await removeQuietly(join(dir, name), true);
}
