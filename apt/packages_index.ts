/**
 * `Packages`, `Packages.gz` and `Packages.xz` of one component and architecture, built in chunks.
 *
 * The stanzas are cut into chunks, and each chunk into xz blocks, where names say (see
 * `index_chunks.ts`). Each chunk is compressed on its own into a gzip member, and each block into
 * an xz block, and both are cached by their content: `Packages.gz` is the members concatenated
 * (gzip readers, apt's included, read every member) and `Packages.xz` one stream of the blocks
 * (see `xz_blocks.ts`). Adding one package to a large index compresses one chunk with gzip and
 * one block with xz, not the file. The bytes depend only on the stanzas, however the index was
 * reached.
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
  pad4,
  XZ_STREAM_HEADER_SIZE,
  type XzBlock,
  xzCompressChunks,
} from "./xz_blocks.ts";
import { loadLiblzma } from "../engine/liblzma.ts";
import { liblzmaBlocks } from "./xz_ffi.ts";

/** One xz block of a chunk as recorded: its text's key, and the sizes the xz index lists. */
export interface XzBlockInfo {
  /** The key of the text it compresses (its name in the chunk store). */
  readonly key: string;
  /** Block header + compressed data + check, without the padding to 4 bytes. */
  readonly unpadded: number;
  /** The length of its text. */
  readonly plain: number;
}

/**
 * A chunk of a published index whose three forms are known already (an unchanged part of it,
 * sliced from the published files): nothing is encoded, hashed or compressed again.
 */
export interface ReusedChunk {
  readonly key: string;
  readonly plain: Uint8Array;
  readonly gz: Uint8Array;
  /** Its xz blocks' bytes, one after another, and what the record says of each. */
  readonly xz: Uint8Array;
  readonly blocks: readonly XzBlockInfo[];
  /** Its position in the published files (hashing resumes after a run kept from the start). */
  readonly at?: number;
  /** The hashes' state after it, as recorded (see {@link ChunkInfo.after}). */
  readonly after?: string;
}

/** A chunk to build: its xz blocks' texts (one string: a single block), or its known forms. */
export type IndexChunk = string | readonly string[] | ReusedChunk;

/** Where one chunk sits in the built files: its key and the length of each of its forms. */
export interface ChunkInfo {
  readonly key: string;
  readonly plain: number;
  readonly gz: number;
  /** Its xz blocks' bytes (padding included). */
  readonly xz: number;
  /** Its xz blocks, in order. */
  readonly blocks: readonly XzBlockInfo[];
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

/** The blocks of a reused chunk's xz bytes, as its record describes them. */
function splitBlocks(xz: Uint8Array, blocks: readonly XzBlockInfo[]): Block[] {
  let at = 0;
  return blocks.map((b) => {
    const end = at + pad4(b.unpadded);
    const bytes = xz.subarray(at, end);
    at = end;
    return {
      key: b.key,
      plain: b.plain,
      xz: { bytes, unpadded: b.unpadded, uncompressed: b.plain },
    };
  });
}

/** An xz block being built: its text's key and length, its text unless reused, its block. */
interface Block {
  readonly key: string;
  readonly plain: number;
  bytes?: Uint8Array;
  xz?: XzBlock;
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
 * what `store` does not hold yet: the xz blocks `parallelism` at a time (liblzma on other
 * threads, or `xz` processes), the chunks' gzip members meanwhile (zlib on other threads, see
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
    blocks: Block[];
    gz?: Uint8Array;
    at?: number;
    after?: string;
  }
  const chunkByKey = new Map<string, Chunk>();
  const blockByKey = new Map<string, Block>();
  const layout = indexes.map((chunks) =>
    chunks.map((chunk): Chunk => {
      if (typeof chunk !== "string" && !Array.isArray(chunk)) {
        const c = chunk as ReusedChunk;
        store.keep(c);
        const { plain: bytes, key, gz, at, after } = c;
        return { bytes, key, gz, at, after, blocks: splitBlocks(c.xz, c.blocks) };
      }
      const texts = typeof chunk === "string" ? [chunk] : chunk as readonly string[];
      const blocks = texts.map((text) => {
        const bytes = encoder.encode(text);
        const key = sha256Hex(bytes);
        let b = blockByKey.get(key);
        if (!b) {
          b = { key, plain: bytes.length, bytes };
          const xz = store.get(ChunkStore.xzName(key));
          if (xz) b.xz = unpackBlock(xz, bytes.length);
          blockByKey.set(key, b);
        }
        return b;
      });
      // A chunk's key is that of its blocks' keys: its text is hashed once, block by block.
      const key = blocks.length === 1
        ? blocks[0].key
        : sha256Hex(encoder.encode(blocks.map((b) => b.key).join("\n")));
      let c = chunkByKey.get(key);
      if (!c) {
        const bytes = blocks.length === 1
          ? blocks[0].bytes!
          : concatBytes(blocks.map((b) => b.bytes!));
        c = { bytes, key, blocks };
        const gz = store.get(ChunkStore.gzName(key));
        if (gz) c.gz = gz;
        chunkByKey.set(key, c);
      }
      return c;
    })
  );
  const needXz = [...blockByKey.values()].filter((b) => !b.xz);
  const needGz = [...chunkByKey.values()].filter((c) => !c.gz);
  // A few blocks (adding a package): liblzma in this process, with no process to start. Many (a
  // full build): `xz` processes, each reusing one encoder for its blocks, where as many fresh
  // encoders would cost a cold process their page faults. The blocks are the same bytes.
  const lzma = opts.xz !== "tool" && needXz.length <= opts.parallelism ? loadLiblzma() : null;

  // Split the xz work into groups of about equal size, one process each.
  const groups: Block[][] = Array.from(
    { length: Math.max(1, Math.min(opts.parallelism, needXz.length)) },
    () => [],
  );
  const load = groups.map(() => 0);
  for (const b of [...needXz].sort((a, b) => b.plain - a.plain)) {
    const i = load.indexOf(Math.min(...load));
    groups[i].push(b);
    load[i] += b.plain;
  }
  // Keep index order inside a group (sorting only chose the group).
  const order = new Map(needXz.map((b, i) => [b, i]));
  for (const g of groups) g.sort((a, b) => order.get(a)! - order.get(b)!);

  const xzWork = Promise.all(
    groups.filter((g) => g.length).map(async (g) => {
      const bytes = g.map((b) => b.bytes!);
      const blocks = lzma
        ? await liblzmaBlocks(lzma, bytes)
        : await xzCompressChunks(bytes, opts.xzTool, opts.tmpDir);
      if ("reason" in blocks) return blocks;
      g.forEach((b, i) => (b.xz = blocks[i]));
      return null;
    }),
  );
  // While xz runs: gzip (zlib on other threads too), the caller's work, and the forms joined and
  // hashed here, the plain ones first. Hashing them on other threads instead, a call per chunk
  // and digest, woke a thread some thirty times an add, each taking this thread's core for a
  // while; in paired adds mid-index that was 0.4-0.5 ms slower and 1.2 ms more CPU.
  const gzWork = Promise.all(needGz.map(async (c) => void (c.gz = await gzipMember(c.bytes))));
  const plains = layout.map((chunks) => concatBytes(chunks.map((c) => c.bytes)));
  plains.forEach((plain, i) => opts.stage?.(i, "Packages", plain));
  opts.meanwhile?.();
  // Hashing resumes after the chunks kept, at their places, from the start of the file.
  const resumes = layout.map(resumeAfter);
  const none = new Uint8Array(0);
  const hashes = plains.map((plain, i) => {
    const file = { head: none, pieces: layout[i].map((c) => c.bytes), tail: none };
    return hashIndexForm(file, plain, resumes[i], 0);
  });
  await gzWork;
  const empty = layout.some((chunks) => !chunks.length)
    ? await gzipMember(new Uint8Array(0))
    : null;
  const gzs = layout.map((chunks) =>
    chunks.length ? concatBytes(chunks.map((c) => c.gz!)) : empty!
  );
  gzs.forEach((gz, i) => opts.stage?.(i, "Packages.gz", gz));
  const gzHashes = gzs.map((gz, i) => {
    const file = {
      head: none,
      pieces: layout[i].map((c) => c.gz!),
      tail: layout[i].length ? none : gz,
    };
    return hashIndexForm(file, gz, resumes[i], 1);
  });
  const failed = (await xzWork).find((r) => r !== null);
  if (failed) return failed;
  for (const c of needGz) store.put(ChunkStore.gzName(c.key), c.gz!);
  for (const b of needXz) store.put(ChunkStore.xzName(b.key), packBlock(b.xz!));
  const xzs = layout.map((chunks) =>
    joinXzBlocks(chunks.flatMap((c) => c.blocks.map((b) => b.xz!)))
  );
  xzs.forEach((xz, i) => opts.stage?.(i, "Packages.xz", xz));
  const xzSizes = layout.map((chunks) =>
    chunks.map((c) => c.blocks.reduce((n, b) => n + b.xz!.bytes.length, 0))
  );
  const xzHashes = xzs.map((xz, i) => {
    // Each chunk's blocks lie one after another in the stream: its piece is where they lie.
    let end = XZ_STREAM_HEADER_SIZE;
    const pieces = xzSizes[i].map((size) => xz.subarray(end, end += size));
    const head = xz.subarray(0, XZ_STREAM_HEADER_SIZE);
    return hashIndexForm({ head, pieces, tail: xz.subarray(end) }, xz, resumes[i], 2);
  });
  // The new chunks are written meanwhile: the caller's prune or drop waits for them (`store.flush`).

  return layout.map((chunks, i) => ({
    plain: plains[i],
    gz: gzs[i],
    xz: xzs[i],
    hashes: { plain: hashes[i].hashes, gz: gzHashes[i].hashes, xz: xzHashes[i].hashes },
    chunks: chunks.map((c, j) => ({
      key: c.key,
      plain: c.bytes.length,
      gz: c.gz!.length,
      xz: xzSizes[i][j],
      blocks: c.blocks.map((b) => ({ key: b.key, unpadded: b.xz!.unpadded, plain: b.plain })),
      after: stateAfter(resumes[i], j, c.after, [hashes[i], gzHashes[i], xzHashes[i]]),
    })),
  }));
}
