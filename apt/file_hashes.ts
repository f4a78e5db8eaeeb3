/**
 * The size, MD5, SHA-256 and SHA-512 that APT lists for every file (`Packages` for pool files,
 * `Release` for index files), from bytes in memory or streamed from a file. libcrypto computes
 * them where it loads (`engine/libcrypto.ts`), `node:crypto` elsewhere; the digests are the same.
 * `node:crypto` is imported only where it is needed: Node compatibility costs a fresh process
 * about 15 ms to load, more than hashing 1,000 packages takes.
 *
 * @module
 */

import { loadLibcrypto } from "../engine/libcrypto.ts";
import type { FileHashes } from "./stanza.ts";

const STREAM_CHUNK = 4 * 1024 * 1024;

type CreateHash = typeof import("node:crypto").createHash;
/** For the synchronous hashes where libcrypto does not load: then imported with this module. */
const fallback: CreateHash | undefined = loadLibcrypto()
  ? undefined
  : (await import("node:crypto")).createHash;

function nodeDigests(
  update: (h: (b: Uint8Array) => void) => void,
  createHash: CreateHash = fallback!,
): Omit<FileHashes, "size"> {
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  const sha512 = createHash("sha512");
  update((b) => {
    md5.update(b);
    sha256.update(b);
    sha512.update(b);
  });
  return { md5: md5.digest("hex"), sha256: sha256.digest("hex"), sha512: sha512.digest("hex") };
}

/**
 * Size and hashes of bytes in memory, on this thread.
 *
 * @example
 * ```ts
 * hashBytes(new Uint8Array(0)).sha256;
 * // "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * ```
 */
export function hashBytes(bytes: Uint8Array): FileHashes {
  const lib = loadLibcrypto();
  if (!lib) return { size: bytes.length, ...nodeDigests((u) => u(bytes)) };
  return {
    size: bytes.length,
    md5: lib.digest("md5", bytes),
    sha256: lib.digest("sha256", bytes),
    sha512: lib.digest("sha512", bytes),
  };
}

/**
 * SHA-256 (hex) of bytes in memory, on this thread.
 *
 * @example
 * ```ts
 * sha256Hex(new TextEncoder().encode("abc"));
 * // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return loadLibcrypto()?.digest("sha256", bytes) ??
    fallback!("sha256").update(bytes).digest("hex");
}

/**
 * Size and hashes of a file, streamed (for files too large to read whole, where loading
 * `node:crypto` costs little beside the hashing).
 */
export async function hashFileStreaming(path: string): Promise<FileHashes> {
  const { createHash } = await import("node:crypto");
  using f = Deno.openSync(path, { read: true });
  const buf = new Uint8Array(STREAM_CHUNK);
  let size = 0;
  const d = nodeDigests((u) => {
    for (;;) {
      const n = f.readSync(buf);
      if (n === null || n === 0) break;
      u(buf.subarray(0, n));
      size += n;
    }
  }, createHash);
  return { size, ...d };
}
