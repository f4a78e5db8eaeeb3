/**
 * gzip through the system's zlib, loaded by FFI: `compress2` makes the deflate data on Deno's
 * blocking thread pool (`nonblocking`), so this thread goes on meanwhile, and it loads no Node
 * compatibility code (`node:zlib` costs a fresh process about 15 ms to import, before any
 * compressing). Where zlib cannot be loaded (no `--allow-ffi`, no `libz.so.1`), `node:zlib` does
 * the work, imported then.
 *
 * A gzip member is zlib's stream re-wrapped: `compress2` writes a 2-byte zlib header, the raw
 * deflate data and an Adler-32; gzip wants a 10-byte header, the same deflate data, a CRC-32 and
 * the length (RFC 1950, RFC 1952). The deflate data is what `gzip -6 -n` writes with the same
 * zlib.
 *
 * @module
 */

import { openLibrary } from "./ffi_load.ts";

const SYMBOLS = {
  compressBound: { parameters: ["usize"], result: "usize" },
  compress2: {
    parameters: ["buffer", "buffer", "buffer", "usize", "i32"],
    result: "i32",
    nonblocking: true,
  },
  crc32: { parameters: ["usize", "buffer", "u32"], result: "usize" },
} as const;

type Libz = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const Z_OK = 0;
/** The gzip header kiln writes: deflate, no name, no time, OS Unix (as `gzip -n` on Linux). */
const GZIP_HEADER = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
/** zlib's largest input for one `crc32` call (its length argument is 32 bits). */
const CRC_STEP = 0x4000_0000;

let lib: Libz | null | undefined;

function loadLibz(): Libz | null {
  if (lib === undefined) lib = openLibrary(["libz.so.1", "libz.so"], SYMBOLS);
  return lib;
}

function crc32(l: Libz, bytes: Uint8Array): number {
  let crc = 0;
  for (let at = 0; at < bytes.length; at += CRC_STEP) {
    const part = bytes.subarray(at, at + CRC_STEP);
    crc = Number(l.crc32(BigInt(crc), part, part.length));
  }
  return crc;
}

/**
 * `bytes` as one gzip member at compression `level` (no name, no time, OS Unix), compressed off
 * this thread where zlib loads. `bytes` must not change until the promise settles.
 *
 * @example
 * ```ts
 * const gz = await gzip(new TextEncoder().encode("Package: kiln\n"), 6);
 * new TextDecoder().decode(await new Response(
 *   new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")),
 * ).arrayBuffer()); // "Package: kiln\n"
 * ```
 */
export async function gzip(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  const l = loadLibz();
  if (!l) return await nodeGzip(bytes, level);
  const bound = Number(l.compressBound(BigInt(bytes.length)));
  const zlib = new Uint8Array(bound);
  const size = new BigUint64Array([BigInt(bound)]);
  const compressing = l.compress2(
    zlib,
    new Uint8Array(size.buffer),
    bytes,
    BigInt(bytes.length),
    level,
  );
  const crc = crc32(l, bytes); // on this thread meanwhile: a tenth of deflate's time
  const rc = await compressing;
  void bytes.length; // keep the input alive until the call has returned
  if (rc !== Z_OK) throw new Error(`zlib compress2 failed with ${rc}`);
  const deflate = zlib.subarray(2, Number(size[0]) - 4); // without zlib's header and Adler-32
  const out = new Uint8Array(GZIP_HEADER.length + deflate.length + 8);
  out.set(GZIP_HEADER);
  out.set(deflate, GZIP_HEADER.length);
  const tail = new DataView(out.buffer, GZIP_HEADER.length + deflate.length);
  tail.setUint32(0, crc, true);
  tail.setUint32(4, bytes.length >>> 0, true); // ISIZE: the length modulo 2^32
  return out;
}

async function nodeGzip(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  const { gzipSync } = await import("node:zlib");
  const out = new Uint8Array(gzipSync(bytes, { level }));
  out[9] = 3; // OS byte: Unix, whatever platform wrote it (as `gzip -n` does)
  return out;
}

/**
 * Decompresses a gzip stream (one or more members). Rare in kiln's hot paths (`.deb` control
 * members kiln writes are gzip, those dpkg-deb writes are xz), so `node:zlib` is imported on
 * first use rather than by every process that might need it.
 */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const { gunzipSync } = await import("node:zlib");
  return new Uint8Array(gunzipSync(bytes));
}
