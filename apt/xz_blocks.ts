/**
 * `.xz` files built from independently compressed blocks, so that changing one part of a large
 * index recompresses only that part. An xz stream is a header, blocks that each start with a
 * fresh LZMA2 state, an index of their sizes and a footer; `xz --block-list` compresses a run of
 * chunks into exactly such blocks, byte for byte the same as compressing each chunk on its own.
 * This module splits such a stream into its blocks and joins any blocks into one valid stream,
 * which every decoder reads (apt's liblzma reader included: unlike several concatenated streams,
 * which apt stops reading after the first).
 *
 * Format: https://tukaani.org/xz/xz-file-format.txt
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";
import { join } from "../engine/path.ts";
import { type Failure, failure } from "../engine/failure.ts";

/** One compressed block: its bytes (padded to 4, check included) and the sizes the index lists. */
export interface XzBlock {
  readonly bytes: Uint8Array;
  /** Block header + compressed data + check, without the padding. */
  readonly unpadded: number;
  readonly uncompressed: number;
}

/**
 * The LZMA2 filter of every `Packages.xz` block, whichever way it is compressed (the `xz` tool
 * here, liblzma in `xz_ffi.ts`): preset 6's literal coder and optimum parser with
 * - a dictionary the size of the largest chunk (`CHUNK_MAX` in `packages_index.ts`, 256 KiB), so
 *   no 8 MiB one is set up for 40 KB of text. The match finder's hash table grows with it, and
 *   a fresh encoder touches all of it: compressing one 45 KB chunk touched 573 pages at 256 KiB
 *   against 828 at 512 KiB, for the same bytes on the bench's 1,000 packages;
 * - the hash-chain match finder (hc4) and a nice length of 16: Packages text is runs of
 *   near-identical stanzas, whose matches are found at once. Measured on the bench's 1,000
 *   packages: 145.3 KB in 0.05 s, against 143.6 KB in 0.11 s with preset 6's nice length of 64
 *   and 143.6 KB in 0.23 s with plain `xz -6`. apt-ftparchive writes 156 KB.
 *
 * Its {@link XZ_FILTER.tag} names cached blocks, so blocks made with another filter (an older
 * kiln's) are never joined with these: the bytes depend on the stanzas alone.
 */
export const XZ_FILTER = filter({ preset: 6, dictKiB: 256, matchFinder: "hc4", niceLength: 16 });

/** The settings of an LZMA2 filter that kiln sets (the rest are its preset's). */
interface XzFilterSettings {
  readonly preset: number;
  readonly dictKiB: number;
  readonly matchFinder: "hc3" | "hc4" | "bt2" | "bt3" | "bt4";
  readonly niceLength: number;
}

/** `f`, with the `xz` tool's spelling of it and the tag derived from it. */
function filter(f: XzFilterSettings) {
  const { preset, dictKiB, matchFinder, niceLength } = f;
  return {
    ...f,
    dictBytes: dictKiB * 1024,
    /** The `--lzma2=` argument of the `xz` tool. */
    toolArg: `preset=${preset},dict=${dictKiB}KiB,mf=${matchFinder},nice=${niceLength}`,
    /** Part of a cached block's key. */
    tag: `xz${preset}d${dictKiB}${matchFinder}n${niceLength}`,
  };
}

/** The xz tool could not be run or failed. */
export const XZ_FAILED = "apt-xz-failed";

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
/** Stream flags: no flags, CRC64 check (the xz tool's default). */
const FLAGS = new Uint8Array([0x00, 0x04]);
/** Bytes of the stream header {@link joinXzBlocks} writes before the first block. */
export const XZ_STREAM_HEADER_SIZE = 12;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as the xz header, index and footer use. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** A block's bytes in the stream: its unpadded size rounded up to a multiple of four. */
export const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * Splits a single-stream `.xz` file (as `xz` writes one) into its blocks.
 *
 * @throws {Error} when `stream` is not such a file (a bug in the caller: it comes from `xz`)
 */
export function splitXzBlocks(stream: Uint8Array): XzBlock[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (stream.length < 32 || MAGIC.some((b, i) => stream[i] !== b)) {
    throw new Error("not an xz stream");
  }
  if (stream[6] !== FLAGS[0] || stream[7] !== FLAGS[1]) throw new Error("not a CRC64 xz stream");
  const footer = stream.length - 12;
  if (stream[footer + 10] !== 0x59 || stream[footer + 11] !== 0x5a) {
    throw new Error("xz stream footer missing (stream padding or several streams)");
  }
  const indexSize = (view.getUint32(footer + 4, true) + 1) * 4;
  let p = footer - indexSize;
  if (stream[p++] !== 0) throw new Error("xz index indicator missing");
  const read = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = stream[p++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 0x80;
    }
  };
  const count = read();
  const blocks: XzBlock[] = [];
  let at = 12;
  for (let i = 0; i < count; i++) {
    const unpadded = read();
    const uncompressed = read();
    const end = at + pad4(unpadded);
    blocks.push({ bytes: stream.subarray(at, end), unpadded, uncompressed });
    at = end;
  }
  if (at !== footer - indexSize) throw new Error("xz index does not match the blocks");
  return blocks;
}

/**
 * Joins blocks into one `.xz` stream: header, the blocks in order, an index listing them and the
 * footer. With no blocks it is the stream `xz` writes for empty input.
 */
export function joinXzBlocks(blocks: readonly XzBlock[]): Uint8Array {
  const flagsCrc = le32(crc32(FLAGS));
  const header = [...MAGIC, ...FLAGS, ...flagsCrc];
  const index: number[] = [0];
  varint(blocks.length, index);
  for (const b of blocks) {
    varint(b.unpadded, index);
    varint(b.uncompressed, index);
  }
  while (index.length % 4) index.push(0);
  index.push(...le32(crc32(new Uint8Array(index))));
  const tail = [...le32(index.length / 4 - 1), ...FLAGS];
  const footer = [...le32(crc32(new Uint8Array(tail))), ...tail, 0x59, 0x5a];
  let size = header.length + index.length + footer.length;
  for (const b of blocks) size += b.bytes.length;
  const out = new Uint8Array(size);
  out.set(header, 0);
  let o = header.length;
  for (const b of blocks) {
    out.set(b.bytes, o);
    o += b.bytes.length;
  }
  out.set(index, o);
  out.set(footer, o + index.length);
  return out;
}

/**
 * Compresses each chunk into its own block with one `xz` process ({@link XZ_FILTER}, one
 * thread, CRC64): the blocks are the same whichever other chunks share the run, so cached blocks
 * can be reused. xz works file to file in `tmpDir` (default: a system temp folder), so it runs at
 * full speed whatever this thread does meanwhile.
 */
export async function xzCompressChunks(
  chunks: readonly Uint8Array[],
  tool = "xz",
  tmpDir?: string,
): Promise<XzBlock[] | Failure> {
  if (!chunks.length) return [];
  const sizes = chunks.map((c) => c.length);
  const dir = tmpDir ?? Deno.makeTempDirSync({ prefix: "kiln-xz-" });
  const file = join(dir, `packages-${crypto.randomUUID()}`);
  try {
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeFileSync(file, concatBytes(chunks));
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(tool, {
        args: [
          "--format=xz",
          "--check=crc64",
          `--lzma2=${XZ_FILTER.toolArg}`,
          "-T1",
          `--block-list=${sizes.join(",")}`,
          "-k",
          "-f",
          "-q",
          file,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
    } catch (e) {
      return failure(
        "tool-missing",
        `Cannot run ${JSON.stringify(tool)} to write Packages.xz (${
          e instanceof Error ? e.message : e
        }); install xz-utils`,
      );
    }
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
      return failure(XZ_FAILED, `${JSON.stringify(tool)} failed to compress Packages.xz: ${err}`);
    }
    const blocks = splitXzBlocks(Deno.readFileSync(`${file}.xz`));
    if (blocks.length !== chunks.length || blocks.some((b, i) => b.uncompressed !== sizes[i])) {
      throw new Error(`xz made ${blocks.length} blocks for ${chunks.length} chunks`);
    }
    return blocks;
  } finally {
    for (const f of tmpDir === undefined ? [dir] : [file, `${file}.xz`]) {
      try {
        Deno.removeSync(f, { recursive: true });
      } catch { /* not made */ }
    }
  }
}
