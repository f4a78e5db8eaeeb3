/**
 * MD5, SHA-256 and SHA-512 through OpenSSL's libcrypto, by FFI, on this thread or off it.
 *
 * Two reasons over `node:crypto`: a one-shot `EVP_Digest` of a small input costs no hash objects
 * (1,000 `.deb` files hashed three ways: 4.9 ms instead of 7.4 ms here), and a large input can be
 * hashed on Deno's blocking thread pool (`nonblocking` FFI) while this thread does other work, which
 * `node:crypto` and WebCrypto cannot (both digest on the calling thread in Deno). An APT publish
 * hashes its index files that way while it checks the pool.
 *
 * `null` where libcrypto cannot be loaded (another OS, no `--allow-ffi`, no OpenSSL 3 or 1.1):
 * callers then use `node:crypto`, which gives the same digests.
 *
 * @module
 */

/** The digests kiln computes with libcrypto. */
export type DigestAlgorithm = "md5" | "sha256" | "sha512";

const SIZES: Record<DigestAlgorithm, number> = { md5: 16, sha256: 32, sha512: 64 };

const DIGEST = ["buffer", "usize", "buffer", "pointer", "pointer", "pointer"] as const;
const SYMBOLS = {
  EVP_Digest: { parameters: DIGEST, result: "i32" },
  EVP_DigestOffThread: { name: "EVP_Digest", parameters: DIGEST, result: "i32", nonblocking: true },
  EVP_md5: { parameters: [], result: "pointer" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_sha512: { parameters: [], result: "pointer" },
} as const;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += HEX[bytes[i]];
  return s;
}

/** libcrypto's one-shot digests. */
export class Libcrypto {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
  readonly #md: Record<DigestAlgorithm, Deno.PointerValue>;
  readonly #out = new Uint8Array(64);

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"]) {
    this.#lib = lib;
    this.#md = { md5: lib.EVP_md5(), sha256: lib.EVP_sha256(), sha512: lib.EVP_sha512() };
  }

  /**
   * The hex digest of `bytes`, computed on this thread.
   *
   * @example
   * ```ts
   * loadLibcrypto()?.digest("sha256", new TextEncoder().encode("abc"));
   * // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
   * ```
   */
  digest(algorithm: DigestAlgorithm, bytes: Uint8Array): string {
    const ok = this.#lib.EVP_Digest(
      bytes,
      BigInt(bytes.length),
      this.#out,
      null,
      this.#md[algorithm],
      null,
    );
    if (ok !== 1) throw new Error(`EVP_Digest(${algorithm}) failed`);
    return hex(this.#out, SIZES[algorithm]);
  }

  /**
   * The hex digest of `bytes`, computed on Deno's blocking thread pool: worth it for inputs of
   * hundreds of KiB, which then cost this thread nothing (a call costs it about 8 µs). `bytes`
   * must not change until the promise settles.
   */
  async digestOffThread(algorithm: DigestAlgorithm, bytes: Uint8Array): Promise<string> {
    const out = new Uint8Array(64);
    const ok = await this.#lib.EVP_DigestOffThread(
      bytes,
      BigInt(bytes.length),
      out,
      null,
      this.#md[algorithm],
      null,
    );
    if (ok !== 1) throw new Error(`EVP_Digest(${algorithm}) failed`);
    void bytes.length; // keep the input alive until the call has returned
    return hex(out, SIZES[algorithm]);
  }
}

let loaded: Libcrypto | null | undefined;

/** libcrypto, loaded on first use; `null` where it cannot be (use `node:crypto` then). */
export function loadLibcrypto(): Libcrypto | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  for (const name of ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"]) {
    try {
      loaded = new Libcrypto(Deno.dlopen(name, SYMBOLS).symbols);
      break;
    } catch {
      // no FFI permission, or not installed under this name: try the next, then fall back
    }
  }
  return loaded;
}
