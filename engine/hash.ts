/**
 * SHA-256 of files and strings.
 *
 * node:crypto hashes as fast as `openssl dgst -sha256` (see `deno task bench`), but loading Node
 * compatibility costs ~18 ms of start-up, so it is imported only for inputs over 64 KiB; smaller
 * ones, most of a build's, go through `sha256_small.ts`.
 *
 * @module
 */

import { sha256Small, SMALL_INPUT } from "./sha256_small.ts";

type NodeCrypto = typeof import("node:crypto");
let cryptoModule: NodeCrypto | undefined;

async function nodeCrypto(): Promise<NodeCrypto> {
  cryptoModule ??= await import("node:crypto");
  return cryptoModule;
}

const CHUNK = 4 * 1024 * 1024;
let buffer: Uint8Array | undefined;

/** Result of hashing a file: its digest (hex) and the number of bytes read. */
export interface FileDigest {
  readonly digest: string;
  readonly size: number;
}

/**
 * Streams `path` through SHA-256 in 4 MiB chunks, never holding the file in memory.
 *
 * @example
 * ```ts
 * const { digest } = await hashFile("/tmp/image.qcow2");
 * ```
 */
export async function hashFile(path: string, algorithm = "sha256"): Promise<FileDigest> {
  // Synchronous: for the many small files of a build, a thread-pool hop costs more than the read.
  using f = Deno.openSync(path, { read: true });
  buffer ??= new Uint8Array(CHUNK);
  if (algorithm === "sha256") {
    // Small files (most of a build's) are hashed without loading node:crypto.
    let n = 0;
    for (;;) {
      const r = f.readSync(buffer.subarray(n, SMALL_INPUT + 1));
      if (r === null || r === 0) break;
      n += r;
      if (n > SMALL_INPUT) break;
    }
    if (n <= SMALL_INPUT) return { digest: sha256Small(buffer.subarray(0, n)), size: n };
    f.seekSync(0, Deno.SeekMode.Start);
  }
  const c = await nodeCrypto();
  const h = c.createHash(algorithm);
  // One buffer for the whole process: allocating 4 MiB per file costs more than hashing it.
  let size = 0;
  for (;;) {
    const n = f.readSync(buffer);
    if (n === null || n === 0) break;
    h.update(n === buffer.length ? buffer : buffer.subarray(0, n));
    size += n;
  }
  return { digest: h.digest("hex"), size };
}

/** SHA-256 (hex) of a UTF-8 string or bytes. */
export async function sha256(data: string | Uint8Array): Promise<string> {
  const size = typeof data === "string" ? data.length * 3 : data.length;
  if (size <= SMALL_INPUT) return sha256Small(data);
  const c = await nodeCrypto();
  return c.createHash("sha256").update(data).digest("hex");
}
