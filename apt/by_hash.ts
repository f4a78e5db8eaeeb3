/**
 * Writing index files the way mirrors and clients need: content-addressed copies first
 * (`by-hash/SHA256/<hash>`, and for MD5Sum and SHA512, all one inode), then the named file
 * replaced by a rename. A client that fetched the previous `InRelease` (with `Acquire-By-Hash:
 * yes`) still finds the indexes it lists; one that fetches the new one finds the new ones; a
 * half-written file is never visible. Superseded copies are kept a while (`byHashKeep`) and then
 * deleted, as apt-ftparchive and reprepro do.
 *
 * @module
 */

import { sameBytes } from "../engine/bytes.ts";
import { replaceFileAtomic, tmpPath } from "../engine/durable.ts";
import { type Removals, removeVia, replaceVia } from "../engine/removals.ts";
import { statFile } from "../engine/stat.ts";
import { dirname, join } from "../engine/path.ts";
import type { FileHashes } from "./stanza.ts";

/** The `by-hash/` folder names and the hash each holds. */
const ALGOS = [["MD5Sum", "md5"], ["SHA256", "sha256"], ["SHA512", "sha512"]] as const;

function exists(path: string): boolean {
  return statFile(path) !== null;
}

/** The modification time of `path` in ms, or null when it does not exist. */
function mtimeOf(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/**
 * Makes `path`'s new modification time later, in whole seconds, than the `before` of the file it
 * replaced: HTTP's Last-Modified has one-second resolution, so a client asking with
 * If-Modified-Since would otherwise be told "not modified" about a file replaced within the
 * second it last fetched (and keep the old InRelease).
 */
function laterThan(path: string, before: number | null): void {
  if (before === null) return;
  const now = mtimeOf(path);
  if (now !== null && Math.floor(now / 1000) <= Math.floor(before / 1000)) {
    const t = new Date((Math.floor(before / 1000) + 1) * 1000);
    Deno.utimeSync(path, t, t);
  }
}

/**
 * Replaces `path` with `bytes` atomically (a temporary file in the same folder, then a rename),
 * with a modification time a second past the old file's at least (see {@link laterThan}).
 */
export function replaceFile(
  path: string,
  bytes: Uint8Array | string,
  removals?: Removals,
): void {
  const before = mtimeOf(path);
  replaceVia(removals, path, bytes);
  laterThan(path, before);
}

/** Writes `bytes` to `path` atomically (a temporary file in the same folder, then a rename). */
export function writeAtomic(path: string, bytes: Uint8Array | string): void {
  replaceFileAtomic(path, bytes);
}

/** Links `from` to `to` (replacing it atomically), copying where links are not possible. */
function linkAtomic(from: string, to: string): void {
  const tmp = tmpPath(to);
  try {
    Deno.linkSync(from, tmp);
  } catch {
    Deno.copyFileSync(from, tmp);
  }
  Deno.renameSync(tmp, to);
}

/**
 * Links `from` as the new name `to`: a link appears whole, so no temporary name is needed (a
 * `by-hash/` name is its content's: one that appeared meanwhile holds the same bytes).
 */
function linkNew(from: string, to: string): void {
  try {
    Deno.linkSync(from, to);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) linkAtomic(from, to);
  }
}

/**
 * Publishes `bytes` as `<dir>/<name>`: its `by-hash/` copies (if missing), then the named file
 * (a link to them), unless the named file already holds these bytes. `staged` is a file
 * already holding `bytes` (see `staged_writes.ts`): it becomes the first copy missing, or is
 * removed.
 *
 * @returns whether the named file was (re)written
 */
export function publishIndexFile(
  dir: string,
  name: string,
  bytes: Uint8Array,
  hashes: FileHashes,
  unchanged: boolean,
  staged: string | null = null,
  removals?: Removals,
): boolean {
  const copies = ALGOS.map(([folder, algo]) => join(dir, "by-hash", folder, hashes[algo]));
  let source: string | null = copies.find(exists) ?? null;
  for (const copy of copies) {
    if (exists(copy)) continue;
    Deno.mkdirSync(dirname(copy), { recursive: true });
    if (source) linkNew(source, copy);
    else if (staged) {
      Deno.renameSync(staged, copy); // a name that appeared meanwhile holds the same bytes
      source = copy;
      staged = null;
    } else {
      writeAtomic(copy, bytes);
      source = copy;
    }
  }
  if (staged) removeVia(removals, staged);
  if (unchanged) return false;
  const before = mtimeOf(join(dir, name));
  linkAtomic(source!, join(dir, name));
  laterThan(join(dir, name), before);
  return true;
}

/**
 * Deletes `by-hash/` files under `dir` that no current index uses, keeping the `keep` most
 * recent superseded ones per hash folder.
 */
export function pruneByHash(
  dir: string,
  current: readonly FileHashes[],
  keep: number,
  removals?: Removals,
): void {
  for (const [folder, algo] of ALGOS) {
    const path = join(dir, "by-hash", folder);
    const live = new Set(current.map((h) => h[algo]));
    let old: { name: string; mtime: number }[];
    try {
      old = [...Deno.readDirSync(path)]
        .filter((e) => e.isFile && !live.has(e.name))
        .map((e) => ({
          name: e.name,
          mtime: Deno.statSync(join(path, e.name)).mtime?.getTime() ?? 0,
        }));
    } catch {
      continue;
    }
    old.sort((a, b) => b.mtime - a.mtime || (a.name < b.name ? -1 : 1));
    for (const o of old.slice(keep)) removeVia(removals, join(path, o.name));
  }
}

/** Whether `path` holds exactly `bytes`; `known` is its content when the caller already read it. */
export function holds(path: string, bytes: Uint8Array | string, known?: Uint8Array): boolean {
  const want = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  try {
    const st = Deno.statSync(path);
    if (st.size !== want.length) return false;
    const have = known && known.length === st.size ? known : Deno.readFileSync(path);
    return sameBytes(have, want);
  } catch {
    return false;
  }
}
