/**
 * The ISO cache: every installer ISO this machine has downloaded, shared by all workspaces and
 * never downloaded twice. ISOs are content-addressed by SHA-256 under
 * `<KILN_CACHE_DIR or ~/.cache/kiln>/isos/`:
 *
 * - `sha256/<hex>`: the ISO, read-only; `sha256/<hex>.seal`: its stat signature when stored
 *   (`size:mtimeNs:ino`, as the engine's store seals its large blobs)
 * - `index/<name>.json`: what a name resolved to (digest, size, the URL it came from), so that a
 *   request without a pinned digest also hits without the network
 * - `locks/<key>.lock`: `flock`ed by the process downloading that ISO; others wait for it, then
 *   find the ISO in the cache (the kernel drops the lock if the downloader dies)
 * - `tmp/<key>.iso.partial`: the download in progress; an interrupted one resumes on the next run
 *
 * A hit checks the size and the seal; it rehashes only on doubt (no seal, or the mtime or inode
 * moved, e.g. something wrote through a hard link), and drops a blob that no longer matches.
 * Blobs are flushed to disk before they are renamed into place, so a crash never leaves a torn
 * blob that a seal vouches for.
 *
 * @module
 */

import { replaceFileAtomic } from "../engine/durable.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { hashFile } from "../engine/hash.ts";
import { lockHolder } from "../engine/lock.ts";
import { dirname, join } from "../engine/path.ts";
import { type FileStat, statFile } from "../engine/stat.ts";
import { defaultCacheDir } from "../engine/store.ts";
import { abortableSleep, fetchFile, type FetchOptions } from "./fetch.ts";

/** What to make available: a named ISO, where it comes from and, ideally, its pinned digest. */
export interface IsoRequest {
  /** The ISO's file name, e.g. `debian-12.8.0-amd64-netinst.iso`. */
  readonly name: string;
  /** Primary URL first, then mirrors. */
  readonly urls: readonly string[];
  /** Pinned SHA-256 (hex). Without it, a name hits only if it was fetched from one of `urls`. */
  readonly sha256?: string;
  readonly size?: number;
  /** The kiln cache folder (default {@link defaultCacheDir}); ISOs go to its `isos/`. */
  readonly cacheDir?: string;
  /** Aborts the download or the wait for another process's download. */
  readonly signal?: AbortSignal;
  /** Told once when another process holds the download, e.g. to print "waiting for ...". */
  readonly onWait?: (message: string) => void;
  /** Passed to {@link fetchFile}: retries, backoff, timeouts, progress, log, sleep. */
  readonly fetch?: Omit<
    FetchOptions,
    "urls" | "dest" | "expectedSha256" | "expectedSize" | "signal" | "durable"
  >;
}

/** An ISO in the cache. */
export interface CachedIso {
  /** The blob: read-only, never to be written through; see {@link linkIsoInto}. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** The URL it was downloaded from now, or `null` when it was already cached. */
  readonly downloadedFrom: string | null;
}

/** An index entry: what a name resolved to. */
interface IndexEntry {
  readonly v: 1;
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  readonly url: string;
  readonly fetchedAt: string;
}

/** The ISO cache folder inside kiln's cache folder. */
export function isoCacheDir(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, "isos");
}

/** Path of the blob with digest `sha256`. */
export function isoBlobPath(dir: string, sha256: string): string {
  return join(dir, "sha256", sha256);
}

/** A file-name-safe form of `name` (letters, digits, `._-`; anything else becomes `_`). */
function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return s.slice(0, 180) || "_";
}

function sealOf(st: FileStat): string {
  return `${st.size}:${st.mtimeNs}:${st.ino}`;
}

function readIndex(dir: string, name: string): IndexEntry | null {
  try {
    const e = JSON.parse(Deno.readTextFileSync(join(dir, "index", `${safeName(name)}.json`)));
    return e?.v === 1 && e.name === name && /^[0-9a-f]{64}$/.test(e.sha256) ? e : null;
  } catch {
    return null;
  }
}

function removeQuiet(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* gone */ }
}

/**
 * The blob `sha256` when present and intact: its seal (size, mtime, inode) must match, or else
 * (on doubt) its digest. A blob that fails is removed. `null` on a miss.
 */
async function verifiedBlob(
  dir: string,
  sha256: string,
): Promise<{ path: string; size: number } | null> {
  const path = isoBlobPath(dir, sha256);
  const st = statFile(path);
  if (st?.kind !== "file") return null;
  try {
    if (Deno.readTextFileSync(`${path}.seal`) === sealOf(st)) return { path, size: st.size };
  } catch { /* no seal: rehash */ }
  if ((await hashFile(path)).digest === sha256) {
    replaceFileAtomic(`${path}.seal`, sealOf(statFile(path)!));
    return { path, size: st.size };
  }
  removeQuiet(path);
  removeQuiet(`${path}.seal`);
  return null;
}

/** A cache hit for `req` without the network, `null` on a miss, a Failure if `req` contradicts itself. */
async function lookup(dir: string, req: IsoRequest): Promise<CachedIso | Failure | null> {
  const want = req.sha256?.toLowerCase();
  const entry = readIndex(dir, req.name);
  const sha = want ?? (entry && req.urls.includes(entry.url) ? entry.sha256 : null);
  if (!sha) return null;
  const blob = await verifiedBlob(dir, sha);
  if (!blob) return null;
  if (req.size !== undefined && blob.size !== req.size) {
    return failure(
      "iso-checksum-mismatch",
      `Pinned size ${req.size} of "${req.name}" contradicts its pinned SHA-256 ${sha}, whose file has ${blob.size} bytes; fix the pinned values`,
    );
  }
  return { path: blob.path, sha256: sha, size: blob.size, downloadedFrom: null };
}

/** Takes `path`'s exclusive `flock`, polling so that `signal` can end the wait; `null` if so. */
async function lockFile(
  path: string,
  signal: AbortSignal | undefined,
  onWait: () => void,
): Promise<Deno.FsFile | null> {
  const f = Deno.openSync(path, { read: true, write: true, create: true });
  let told = false;
  while (!f.tryLockSync(true)) {
    if (!told) onWait();
    told = true;
    if (signal?.aborted) {
      f.close();
      return null;
    }
    await abortableSleep(100, signal);
  }
  f.truncateSync(0);
  f.writeSync(new TextEncoder().encode(String(Deno.pid)));
  return f;
}

/** Moves a verified download into place as blob `sha256`, sealed, and records it in the index. */
function publish(dir: string, tmp: string, name: string, sha256: string, url: string): CachedIso {
  const blob = isoBlobPath(dir, sha256);
  Deno.chmodSync(tmp, 0o444);
  const st = statFile(tmp)!;
  // Seal first: a crash between the two leaves a seal without a blob, which is a miss.
  replaceFileAtomic(`${blob}.seal`, sealOf(st));
  Deno.renameSync(tmp, blob);
  const entry: IndexEntry = {
    v: 1,
    name,
    sha256,
    size: st.size,
    url,
    fetchedAt: new Date().toISOString(),
  };
  replaceFileAtomic(join(dir, "index", `${safeName(name)}.json`), JSON.stringify(entry));
  return { path: blob, sha256, size: st.size, downloadedFrom: url };
}

/**
 * Returns the cached ISO for `req`, downloading it (resumably, see `fetch.ts`) only when the
 * cache does not hold it. A pinned digest hits without the network; so does a name fetched
 * before from one of `req.urls`. Several processes asking for the same ISO at once download it
 * once: the others wait for the lock, then hit.
 *
 * @example
 * ```ts
 * const iso = await ensureIso({
 *   name: "debian-12.8.0-amd64-netinst.iso",
 *   urls: ["https://cdimage.debian.org/.../debian-12.8.0-amd64-netinst.iso"],
 *   sha256: "04396d12b0f377958a070c38a923c227832fa3b3e18ddc013936ecf492e9fbb3",
 *   signal: ctx.signal,
 *   onWait: ctx.log,
 * });
 * if ("reason" in iso) return iso;
 * linkIsoInto(iso, ctx.path("out/debian.iso"));
 * ```
 */
export async function ensureIso(req: IsoRequest): Promise<CachedIso | Failure> {
  const dir = isoCacheDir(req.cacheDir);
  const hit = await lookup(dir, req);
  if (hit) return hit;
  for (const d of ["sha256", "index", "locks", "tmp"]) {
    Deno.mkdirSync(join(dir, d), { recursive: true });
  }
  const want = req.sha256?.toLowerCase();
  const key = want ? `${safeName(req.name)}-${want.slice(0, 16)}` : safeName(req.name);
  const lockPath = join(dir, "locks", `${key}.lock`);
  const lock = await lockFile(lockPath, req.signal, () => {
    req.onWait?.(`Waiting for ${lockHolder(lockPath)}, which is downloading "${req.name}"`);
  });
  if (!lock) {
    return failure("interrupted", `Waiting for the download of "${req.name}" was interrupted`);
  }
  try {
    const after = await lookup(dir, req); // the process we waited for may have fetched it
    if (after) return after;
    const tmp = join(dir, "tmp", `${key}.iso`);
    const r = await fetchFile({
      ...req.fetch,
      urls: req.urls,
      dest: tmp,
      expectedSha256: want,
      expectedSize: req.size,
      signal: req.signal,
      durable: true,
    });
    if ("reason" in r) return r;
    return publish(dir, tmp, req.name, r.sha256, r.url);
  } finally {
    lock.close();
  }
}

/**
 * Exposes a cached ISO at `dest` (a workspace path) without copying it: a hard link, read-only
 * like the blob, or a copy when the workspace is on another filesystem. Whatever was at `dest`
 * is removed first, never written through (it may be a link to a blob).
 *
 * @returns how it was done
 * @example
 * ```ts
 * linkIsoInto(iso, ctx.path(".kiln/iso/debian.iso")); // "link"
 * ```
 */
export function linkIsoInto(iso: CachedIso | string, dest: string): "link" | "copy" {
  const blob = typeof iso === "string" ? iso : iso.path;
  Deno.mkdirSync(dirname(dest), { recursive: true });
  removeQuiet(dest);
  try {
    Deno.linkSync(blob, dest);
    return "link";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw e;
  }
  const tmp = `${dest}.tmp-${Deno.pid}`;
  try {
    Deno.copyFileSync(blob, tmp);
    Deno.chmodSync(tmp, 0o444);
    Deno.renameSync(tmp, dest);
  } catch (e) {
    removeQuiet(tmp);
    throw e;
  }
  return "copy";
}
