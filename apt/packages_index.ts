/**
 * `Packages`, `Packages.gz` and `Packages.xz` of one component and architecture, built in chunks.
 *
 * Stanzas are sorted (package, version, architecture, file) and cut into chunks at
 * content-defined points: before a package whose name hashes to 0 modulo {@link CHUNK_EVERY}, so
 * adding or removing a package moves no boundary but its own. Each chunk is compressed on its
 * own, a gzip member and an xz block, and cached by its content: `Packages.gz` is the members
 * concatenated (gzip readers, apt's included, read every member) and `Packages.xz` one stream of
 * the blocks (see `xz_blocks.ts`). Adding one package to a large index recompresses one chunk,
 * not the file. The bytes depend only on the stanzas, however the index was reached.
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";
import { gzip } from "../engine/libz.ts";
import type { Failure } from "../engine/failure.ts";
import { ChunkStore, packBlock, unpackBlock } from "./chunk_store.ts";
import { sha256Hex } from "./file_hashes.ts";
import type { FileHashes } from "./stanza.ts";
import { hashIndexForm, resumeAfter, stateAfter } from "./resumable_hashes.ts";
import {
  joinXzBlocks,
  XZ_STREAM_HEADER_SIZE,
  type XzBlock,
  xzCompressChunks,
} from "./xz_blocks.ts";
import { loadLiblzma } from "../engine/liblzma.ts";
import { liblzmaBlocks } from "./xz_ffi.ts";

/** On average one chunk boundary every this many packages. */
export const CHUNK_EVERY = 64;
/** A chunk is cut after this many bytes whatever the names say (bounds one recompression). */
export const CHUNK_MAX = 256 * 1024;

/** A package as one index lists it. */
export interface IndexedPackage {
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
  readonly poolRel: string;
  /** Its rendered stanza (see `stanza.ts`), without the separating blank line. */
  readonly stanza: string;
  /** The pool file's stat signature when its facts were taken (kept in the index's record). */
  readonly sig: string;
}

/** What an index's record keeps of a package: enough to sort it, find it and check its file. */
export type ListedPackage = Omit<IndexedPackage, "stanza">;

/**
 * A chunk of a published index whose three forms are known already (an unchanged part of it,
 * sliced from the published files): nothing is encoded, hashed or compressed again.
 */
export interface ReusedChunk {
  readonly key: string;
  readonly plain: Uint8Array;
  readonly gz: Uint8Array;
  readonly xz: XzBlock;
  /** Its position in the published files (hashing resumes after a run kept from the start). */
  readonly at?: number;
  /** The hashes' state after it, as recorded (see {@link ChunkInfo.after}). */
  readonly after?: string;
}

/** A chunk to build: its text, or its known forms. */
export type IndexChunk = string | ReusedChunk;

/** Where one chunk sits in the built files: its key and the length of each of its forms. */
export interface ChunkInfo {
  readonly key: string;
  readonly plain: number;
  readonly gz: number;
  /** Its xz block's bytes (padding included), and the size the xz index lists. */
  readonly xz: number;
  readonly unpadded: number;
  /**
   * The state of the three forms' digests after this chunk (base64: plain, gz, xz, each
   * `resumable_hashes.ts`'s state), so that a publish keeping this chunk and all before it
   * hashes only what follows; absent where states cannot be saved.
   */
  readonly after?: string;
}

/** The three forms of one `Packages` file, with the sizes and hashes `Release` lists. */
export interface PackagesFiles {
  readonly plain: Uint8Array;
  readonly gz: Uint8Array;
  readonly xz: Uint8Array;
  readonly hashes: { readonly plain: FileHashes; readonly gz: FileHashes; readonly xz: FileHashes };
  /** Its chunks in order (what an index record keeps, see `index_record.ts`). */
  readonly chunks: readonly ChunkInfo[];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order of stanzas in `Packages`: package, version, architecture, pool path. */
export function comparePackages(a: ListedPackage, b: ListedPackage): number {
  return cmp(a.pkg, b.pkg) || cmp(a.version, b.version) || cmp(a.arch, b.arch) ||
    cmp(a.poolRel, b.poolRel);
}

/**
 * Whether a chunk starts at `p` whatever came before it (a content-defined boundary): a package
 * whose name hashes to 0 modulo {@link CHUNK_EVERY}, following another package's stanza.
 */
export function startsChunk(p: ListedPackage, prev: ListedPackage | undefined): boolean {
  return prev !== undefined && p.pkg !== prev.pkg && fnv1a(p.pkg) % CHUNK_EVERY === 0;
}

/** A chunk of an index: its text and the packages it lists, in order. */
export interface TextChunk<P extends ListedPackage = IndexedPackage> {
  readonly text: string;
  readonly packages: readonly P[];
}

/**
 * Cuts packages already in {@link comparePackages} order into chunks of text (blank-line
 * separated stanzas): before each package that {@link startsChunk}, and after
 * {@link CHUNK_MAX} characters whatever the names say.
 */
export function chunkSorted<P extends IndexedPackage>(sorted: readonly P[]): TextChunk<P>[] {
  const chunks: TextChunk<P>[] = [];
  let cur = "";
  let packages: P[] = [];
  let prev: P | undefined;
  for (const p of sorted) {
    if (cur && (startsChunk(p, prev) || cur.length >= CHUNK_MAX)) {
      chunks.push({ text: cur, packages });
      cur = "";
      packages = [];
    }
    cur += p.stanza + "\n";
    packages.push(p);
    prev = p;
  }
  if (cur) chunks.push({ text: cur, packages });
  return chunks;
}

/** Sorts packages and cuts their stanzas (blank-line separated) into chunks of text. */
export function packagesChunks(packages: readonly IndexedPackage[]): string[] {
  return chunkSorted([...packages].sort(comparePackages)).map((c) => c.text);
}

const encoder = new TextEncoder();

/**
 * A chunk's gzip member, level 6 (the system zlib, off this thread: see `engine/libz.ts`). Level
 * 6 is gzip's default; on the bench's 1,000 packages level 9 saves 0.2% for a fifth more time.
 */
function gzipMember(bytes: Uint8Array): Promise<Uint8Array> {
  return gzip(bytes, 6);
}

/** Options of {@link buildPackagesFiles}. */
export interface CompressOptions {
  /** xz blocks compressed at once. */
  readonly parallelism: number;
  /**
   * `auto` (default): liblzma in this process (see `xz_ffi.ts`) for as many chunks as
   * `parallelism`, the tool for more or where liblzma does not load; `tool`: always the tool.
   */
  readonly xz?: "auto" | "tool";
  readonly xzTool?: string;
  /** Where xz's input and output files go while it runs (default: a system temp folder). */
  readonly tmpDir?: string;
  /**
   * Work for this thread while xz compresses (the caller's checks, say): called once it has
   * started, before its output is awaited.
   */
  readonly meanwhile?: () => void;
  /**
   * Called with each file's bytes as soon as they are known (index `i` of `indexes`), so that
   * the caller can start writing them (see `staged_writes.ts`).
   */
  readonly stage?: (i: number, name: IndexFileName, bytes: Uint8Array) => void;
}

/** The files of one index. */
export type IndexFileName = "Packages" | "Packages.gz" | "Packages.xz";

/**
 * Builds the `Packages` files of several indexes (each given as its chunks), compressing only
 * the chunks `store` does not hold yet: the xz ones `parallelism` at a time (liblzma on other
 * threads, or `xz` processes), the gzip ones meanwhile (zlib on other threads, see
 * `engine/libz.ts`); then hashes each file's forms from where its record lets hashing resume
 * (`resumable_hashes.ts`).
 */
export async function buildPackagesFiles(
  indexes: readonly (readonly IndexChunk[])[],
  store: ChunkStore,
  opts: CompressOptions,
): Promise<PackagesFiles[] | Failure> {
  interface Chunk {
    bytes: Uint8Array;
    key: string;
    gz?: Uint8Array;
    xz?: XzBlock;
    at?: number;
    after?: string;
  }
  const byKey = new Map<string, Chunk>();
  const layout = indexes.map((chunks) =>
    chunks.map((chunk) => {
      if (typeof chunk !== "string") {
        store.keep(chunk.key);
        const { plain: bytes, key, gz, xz, at, after } = chunk;
        return { bytes, key, gz, xz, at, after };
      }
      const bytes = encoder.encode(chunk);
      const key = sha256Hex(bytes);
      let c = byKey.get(key);
      if (!c) {
        c = { bytes, key };
        const names = ChunkStore.names(key);
        const gz = store.get(names.gz);
        if (gz) c.gz = gz;
        const xz = store.get(names.xz);
        if (xz) c.xz = unpackBlock(xz, bytes.length);
        byKey.set(key, c);
      }
      return c;
    })
  );
  const all = [...byKey.values()];
  const needXz = all.filter((c) => !c.xz);
  const needGz = all.filter((c) => !c.gz);
  // A few chunks (adding a package): liblzma in this process, with no process to start. Many (a
  // full build): `xz` processes, each reusing one encoder for its chunks, where as many fresh
  // encoders would cost a cold process their page faults. The blocks are the same bytes.
  const lzma = opts.xz !== "tool" && needXz.length <= opts.parallelism ? loadLiblzma() : null;

  // Split the xz work into groups of about equal size, one process each.
  const groups: Chunk[][] = Array.from(
    { length: Math.max(1, Math.min(opts.parallelism, needXz.length)) },
    () => [],
  );
  const load = groups.map(() => 0);
  for (const c of [...needXz].sort((a, b) => b.bytes.length - a.bytes.length)) {
    const i = load.indexOf(Math.min(...load));
    groups[i].push(c);
    load[i] += c.bytes.length;
  }
  // Keep index order inside a group (sorting only chose the group).
  const order = new Map(needXz.map((c, i) => [c, i]));
  for (const g of groups) g.sort((a, b) => order.get(a)! - order.get(b)!);

  const xzWork = Promise.all(
    groups.filter((g) => g.length).map(async (g) => {
      const bytes = g.map((c) => c.bytes);
      const blocks = lzma
        ? await liblzmaBlocks(lzma, bytes)
        : await xzCompressChunks(bytes, opts.xzTool, opts.tmpDir);
      if ("reason" in blocks) return blocks;
      g.forEach((c, i) => (c.xz = blocks[i]));
      return null;
    }),
  );
  // While xz runs: gzip (zlib on other threads too), the forms joined and hashed, and the
  // caller's work. The plain forms, the largest, are hashed on other threads (see
  // `file_hashes.ts`), the compressed ones, a quarter of the size, here: more busy threads than
  // cores would slow this thread's work (an add's pool check) by more than they take off it.
  const gzWork = Promise.all(needGz.map(async (c) => void (c.gz = await gzipMember(c.bytes))));
  const plains = layout.map((chunks) => concatBytes(chunks.map((c) => c.bytes)));
  plains.forEach((plain, i) => opts.stage?.(i, "Packages", plain));
  // Hashing resumes after the chunks kept, at their places, from the start of the file.
  const resumes = layout.map(resumeAfter);
  const none = new Uint8Array(0);
  const plainHashes = Promise.all(plains.map((plain, i) =>
    hashIndexForm(
      { head: none, pieces: layout[i].map((c) => c.bytes), tail: none },
      plain,
      resumes[i],
      0,
      true,
    )
  ));
  plainHashes.catch(() => {}); // awaited below, unless xz failed first
  opts.meanwhile?.();
  await gzWork;
  const empty = layout.some((chunks) => !chunks.length)
    ? await gzipMember(new Uint8Array(0))
    : null;
  const gzs = layout.map((chunks) =>
    chunks.length ? concatBytes(chunks.map((c) => c.gz!)) : empty!
  );
  gzs.forEach((gz, i) => opts.stage?.(i, "Packages.gz", gz));
  const gzHashes = await Promise.all(gzs.map((gz, i) => {
    const file = {
      head: none,
      pieces: layout[i].map((c) => c.gz!),
      tail: layout[i].length ? none : gz,
    };
    return hashIndexForm(file, gz, resumes[i], 1, false);
  }));
  const failed = (await xzWork).find((r) => r !== null);
  if (failed) return failed;
  for (const c of needGz) store.put(ChunkStore.names(c.key).gz, c.gz!);
  for (const c of needXz) store.put(ChunkStore.names(c.key).xz, packBlock(c.xz!));
  const xzs = layout.map((chunks) => joinXzBlocks(chunks.map((c) => c.xz!)));
  xzs.forEach((xz, i) => opts.stage?.(i, "Packages.xz", xz));
  const xzHashes = await Promise.all(xzs.map((xz, i) => {
    const pieces = layout[i].map((c) => c.xz!.bytes);
    let end = XZ_STREAM_HEADER_SIZE;
    for (const p of pieces) end += p.length;
    const head = xz.subarray(0, XZ_STREAM_HEADER_SIZE);
    return hashIndexForm({ head, pieces, tail: xz.subarray(end) }, xz, resumes[i], 2, false);
  }));
  const hashes = await plainHashes;
  await store.flush(); // the new chunks, written meanwhile

  return layout.map((chunks, i) => ({
    plain: plains[i],
    gz: gzs[i],
    xz: xzs[i],
    hashes: { plain: hashes[i].hashes, gz: gzHashes[i].hashes, xz: xzHashes[i].hashes },
    chunks: chunks.map((c, j) => ({
      key: c.key,
      plain: c.bytes.length,
      gz: c.gz!.length,
      xz: c.xz!.bytes.length,
      unpadded: c.xz!.unpadded,
      after: stateAfter(resumes[i], j, c.after, [hashes[i], gzHashes[i], xzHashes[i]]),
    })),
  }));
}
