/**
 * xz blocks made by liblzma in this process, through FFI: the library the `xz` tool is built on,
 * with the tool's filter (`XZ_FILTER` in `xz_blocks.ts`), one call per block on Deno's
 * blocking thread pool. No process to start, no files to write and read back: adding one package
 * to a large index compresses its chunk in about half the time `xz` takes to start and run.
 *
 * The blocks are byte for byte the tool's: `lzma_block_buffer_encode` writes the same LZMA2 data
 * but puts the sizes in the block header, which the tool's single-threaded encoder leaves out, so
 * the header is written again without them (see {@link toolHeader}). Which way a chunk was
 * compressed therefore never shows in `Packages.xz`. Where liblzma cannot be loaded (no FFI
 * permission, another OS), `loadLiblzma()` (`engine/liblzma.ts`) gives `null` and
 * `xz_blocks.ts` runs the tool.
 *
 * Layouts are liblzma 5's stable ABI (`lzma/block.h`, `lzma/lzma12.h`) on 64-bit Linux.
 *
 * @module
 */

import type { Liblzma } from "../engine/liblzma.ts";
import { crc32, XZ_FILTER, type XzBlock } from "./xz_blocks.ts";

const LZMA_OK = 0;
const LZMA_FILTER_LZMA2 = 0x21n;
const LZMA_VLI_UNKNOWN = 0xffff_ffff_ffff_ffffn;
const LZMA_CHECK_CRC64 = 4;
const MATCH_FINDERS = { hc3: 0x03, hc4: 0x04, bt2: 0x12, bt3: 0x13, bt4: 0x14 } as const;
const CRC64_SIZE = 8;
/** sizeof(lzma_options_lzma), sizeof(lzma_block) and sizeof(lzma_filter) with room to spare. */
const OPTIONS_SIZE = 128;
const BLOCK_SIZE = 256;

const ptr = (b: Uint8Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));

/**
 * Compresses `data` into one xz block ({@link XZ_FILTER}, CRC64), off
 * this thread. Throws when liblzma reports an error: with a valid filter chain that is a bug.
 */
export async function liblzmaBlock(l: Liblzma, data: Uint8Array): Promise<XzBlock> {
  const options = new Uint8Array(OPTIONS_SIZE);
  if (l.lzma_lzma_preset(options, XZ_FILTER.preset) !== 0) throw new Error("liblzma: no preset");
  const ov = new DataView(options.buffer);
  ov.setUint32(0, XZ_FILTER.dictBytes, true); // dict_size
  ov.setUint32(36, XZ_FILTER.niceLength, true); // nice_len
  ov.setUint32(40, MATCH_FINDERS[XZ_FILTER.matchFinder], true); // mf
  const filters = new Uint8Array(32);
  const fv = new DataView(filters.buffer);
  fv.setBigUint64(0, LZMA_FILTER_LZMA2, true);
  fv.setBigUint64(8, ptr(options), true);
  fv.setBigUint64(16, LZMA_VLI_UNKNOWN, true);
  const block = new Uint8Array(BLOCK_SIZE);
  const bv = new DataView(block.buffer);
  bv.setUint32(8, LZMA_CHECK_CRC64, true); // version 0, header_size set by the encoder
  bv.setBigUint64(16, LZMA_VLI_UNKNOWN, true); // compressed_size
  bv.setBigUint64(24, LZMA_VLI_UNKNOWN, true); // uncompressed_size
  bv.setBigUint64(32, ptr(filters), true);
  const out = new Uint8Array(Number(l.lzma_block_buffer_bound(BigInt(data.length))));
  const outPos = new BigUint64Array(1);
  const rc = await l.lzma_block_buffer_encode(
    block,
    null,
    data,
    BigInt(data.length),
    out,
    new Uint8Array(outPos.buffer),
    BigInt(out.length),
  );
  if (rc !== LZMA_OK) throw new Error(`lzma_block_buffer_encode failed with ${rc}`);
  const headerSize = bv.getUint32(4, true);
  const compressed = Number(bv.getBigUint64(16, true));
  // Keep the option buffers alive until the call has returned.
  void options.length, void filters.length;
  const header = toolHeader(out.subarray(0, headerSize));
  const bytes = new Uint8Array(Number(outPos[0]) - headerSize + header.length);
  bytes.set(header);
  bytes.set(out.subarray(headerSize, Number(outPos[0])), header.length);
  return { bytes, unpadded: header.length + compressed + CRC64_SIZE, uncompressed: data.length };
}

function skipVli(b: Uint8Array, o: number): number {
  while (b[o] & 0x80) o++;
  return o + 1;
}

/**
 * A block header without its compressed and uncompressed size fields, as the `xz` tool writes
 * it: flags, the filter flags as they were, zero padding to a multiple of four, CRC32
 * (xz-file-format 3.1).
 */
export function toolHeader(header: Uint8Array): Uint8Array {
  const flags = header[1];
  let o = 2;
  if (flags & 0x40) o = skipVli(header, o);
  if (flags & 0x80) o = skipVli(header, o);
  // The filter flags: (filter id, properties size, properties) per filter.
  let end = o;
  for (let i = 0; i <= (flags & 0x03); i++) {
    end = skipVli(header, end);
    const propsStart = end;
    end = skipVli(header, end);
    let size = 0;
    for (let k = end - 1; k >= propsStart; k--) size = size * 128 + (header[k] & 0x7f);
    end += size;
  }
  const body = [flags & 0x03, ...header.subarray(o, end)];
  const total = Math.ceil((1 + body.length + 4) / 4) * 4;
  const out = new Uint8Array(total);
  out[0] = total / 4 - 1;
  out.set(body, 1);
  new DataView(out.buffer).setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

/**
 * {@link liblzmaBlock} of every chunk, all handed to the blocking pool at once: a chunk queued
 * behind another would start only when this thread next returns to its event loop, which a
 * publish's hashing and checking may not do for tens of milliseconds.
 */
export function liblzmaBlocks(l: Liblzma, chunks: readonly Uint8Array[]): Promise<XzBlock[]> {
  return Promise.all(chunks.map((c) => liblzmaBlock(l, c)));
}
