/**
 * The record kiln keeps beside each `Packages` file it publishes: its chunks in order (key, the
 * length of each form, the packages each lists with their pool files' stat signatures), the
 * hashes of the three files, and the stat signatures the three files had once written. While
 * those signatures hold, the published files are exactly what the record describes, so a publish
 * that adds one package neither reads the index back nor cuts it into chunks again: it slices
 * the unchanged chunks out of the published `Packages`, `.gz` and `.xz` and builds only the
 * chunks that change (see `index_edit.ts`). Like the rest of the state folder it is a cache: a
 * record that is missing, foreign or stale is ignored, and the publish reads the index back.
 *
 * @module
 */

import { type Removals, replaceVia } from "../engine/removals.ts";
import { dirname, join } from "../engine/path.ts";
import { statFile } from "../engine/stat.ts";
import { CHUNK_EVERY, CHUNK_MAX, type ListedPackage, XZ_BLOCK_EVERY } from "./index_chunks.ts";
import type { ChunkInfo } from "./packages_index.ts";
import type { FileHashes } from "./stanza.ts";
import { XZ_FILTER } from "./xz_blocks.ts";

/**
 * How chunks are cut and compressed: a record made another way is not reused, so reused chunks
 * are always those a build from scratch would make.
 */
const SCHEME = `v2:fnv${CHUNK_EVERY}/${XZ_BLOCK_EVERY}:${CHUNK_MAX}:${XZ_FILTER.tag}`;

/** The three files of an index, in this order everywhere in a record. */
export const INDEX_FORMS = ["Packages", "Packages.gz", "Packages.xz"] as const;

/** One chunk as recorded: where it sits in the built files (see `ChunkInfo`), and its packages. */
export interface RecordedChunk extends ChunkInfo {
  /** Its packages, packed (see {@link packPackages}). */
  readonly list: string;
}

/** What kiln knows of one published `Packages` file and its compressed forms. */
export interface IndexRecord {
  /** Stat signatures of `Packages`, `Packages.gz` and `Packages.xz` once written. */
  readonly sigs: readonly [string, string, string];
  readonly hashes: { readonly plain: FileHashes; readonly gz: FileHashes; readonly xz: FileHashes };
  readonly chunks: readonly RecordedChunk[];
}

interface RecordFile extends IndexRecord {
  readonly scheme: string;
}

/**
 * A chunk's packages as one string, a line each: package, version, architecture, pool path and
 * stat signature, tab-separated. A record of 1,000 packages is then a few strings, not thousands
 * of objects, to read, check and write again; a publish unpacks only the chunks it changes.
 * Null when a field holds a tab or a line break (no record is kept of such an index).
 */
export function packPackages(packages: readonly ListedPackage[]): string | null {
  const lines: string[] = [];
  for (const p of packages) {
    const fields = [p.pkg, p.version, p.arch, p.poolRel, p.sig];
    if (fields.some((f) => /[\t\n]/.test(f))) return null;
    lines.push(fields.join("\t"));
  }
  return lines.join("\n");
}

/** The packages {@link packPackages} packed. */
export function unpackPackages(list: string): ListedPackage[] {
  if (!list) return [];
  return list.split("\n").map((line) => {
    const [pkg, version, arch, poolRel, sig] = line.split("\t");
    return { pkg, version, arch, poolRel, sig };
  });
}

/** The first package of a packed list. */
export function firstPackage(list: string): ListedPackage {
  const end = list.indexOf("\n");
  return unpackPackages(end < 0 ? list : list.slice(0, end))[0];
}

/**
 * The packages of a packed list named one of `names` (the others are not unpacked; a list whose
 * name range holds none of them, see {@link mayListNamed}, is not read at all).
 */
export function packagesNamed(list: string, names: ReadonlySet<string>): ListedPackage[] {
  const out: ListedPackage[] = [];
  if (!mayListNamed(list, names)) return out;
  for (let at = 0; at < list.length;) {
    let end = list.indexOf("\n", at);
    if (end < 0) end = list.length;
    if (names.has(list.slice(at, list.indexOf("\t", at)))) {
      out.push(...unpackPackages(list.slice(at, end)));
    }
    at = end + 1;
  }
  return out;
}

/**
 * Whether a packed list may hold a package named one of `names`: its packages are sorted by name
 * (see `comparePackages`), so only a name between its first and last package's can be in it.
 * Looking a name up in a whole index then unpacks one or two of its chunks, not every line.
 */
export function mayListNamed(list: string, names: ReadonlySet<string>): boolean {
  if (!list) return false;
  const first = list.slice(0, list.indexOf("\t"));
  const at = list.lastIndexOf("\n") + 1;
  const last = list.slice(at, list.indexOf("\t", at));
  for (const name of names) if (first <= name && name <= last) return true;
  return false;
}

/** Whether a packed list holds `poolRel`. */
export function listsFile(list: string, poolRel: string): boolean {
  return list.includes(`\t${poolRel}\t`);
}

/**
 * Calls `visit` with where each pool path of a packed list and its stat signature sit in `list`
 * (`list.slice(relFrom, relTo)` and `list.slice(sigFrom, sigTo)`, not cut out: checking 1,000
 * signatures then makes no strings, see `TreeStat.matches`); stops early when `visit` returns
 * false.
 */
export function eachFile(
  list: string,
  visit: (relFrom: number, relTo: number, sigFrom: number, sigTo: number) => boolean,
): boolean {
  let at = 0;
  while (at < list.length) {
    let end = list.indexOf("\n", at);
    if (end < 0) end = list.length;
    const t3 = list.indexOf("\t", list.indexOf("\t", list.indexOf("\t", at) + 1) + 1);
    const t4 = list.indexOf("\t", t3 + 1);
    if (!visit(t3 + 1, t4, t4 + 1, end)) return false;
    at = end + 1;
  }
  return true;
}

/** Where the record of the `Packages` file at `indexRel` is kept. */
export function recordPath(stateDir: string, indexRel: string): string {
  return join(stateDir, "records", `${encodeURIComponent(indexRel)}.json`);
}

/** The stat signatures of an index's three files under `dir`, or null when one is missing. */
export function indexSigs(dir: string): [string, string, string] | null {
  const sigs = INDEX_FORMS.map((name) => statFile(join(dir, name))?.sig);
  return sigs.every((s) => s !== undefined) ? sigs as [string, string, string] : null;
}

/**
 * The record of the `Packages` file at `indexRel` (relative to `root`), when there is one made
 * this way and the three published files still have the signatures it recorded; else null.
 */
export function readIndexRecord(
  stateDir: string,
  root: string,
  indexRel: string,
): IndexRecord | null {
  let data: RecordFile;
  try {
    data = JSON.parse(Deno.readTextFileSync(recordPath(stateDir, indexRel)));
  } catch {
    return null;
  }
  if (data?.scheme !== SCHEME) return null;
  const now = indexSigs(dirname(join(root, indexRel)));
  if (!now || now.some((s, i) => s !== data.sigs[i])) return null;
  return { sigs: data.sigs, hashes: data.hashes, chunks: data.chunks };
}

/** Saves the record of the `Packages` file at `indexRel` (atomically). */
export function writeIndexRecord(
  stateDir: string,
  indexRel: string,
  record: IndexRecord,
  removals?: Removals,
): void {
  const data: RecordFile = { scheme: SCHEME, ...record };
  const path = recordPath(stateDir, indexRel);
  Deno.mkdirSync(dirname(path), { recursive: true });
  replaceVia(removals, path, JSON.stringify(data));
}

/** Deletes the records of indexes other than `keep` (those of suites no longer configured). */
export function pruneIndexRecords(stateDir: string, keep: ReadonlySet<string>): void {
  const dir = join(stateDir, "records");
  const names = new Set([...keep].map((rel) => `${encodeURIComponent(rel)}.json`));
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!names.has(e.name)) Deno.removeSync(join(dir, e.name));
    }
  } catch { /* no records yet */ }
}
