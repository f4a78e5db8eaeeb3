/**
 * HMAC-SHA256 signatures of remote action entries. A remote cache is shared storage: anyone who
 * can write to it could otherwise make every reader restore their bytes. kiln signs what an
 * action key maps to (the key and the digest of kiln's entry blob) with a secret shared by the
 * builders (`KILN_REMOTE_CACHE_KEY`), and ignores entries whose signature does not verify.
 * The entry blob is content-addressed and lists every output's digest, and every byte restored
 * is checked against its digest, so that one signature authenticates the whole result.
 *
 * HMAC is symmetric: whoever can verify can also sign. It stops writers that lack the secret
 * (a compromised or misconfigured server, another team sharing it), not a build that holds it.
 *
 * Uses WebCrypto (built in; `crypto.subtle.verify` compares in constant time).
 *
 * @example
 * ```ts
 * const sig = await signEntry(secret, key, entryDigest, entrySize); // "kiln-hmac-sha256:3fa1…"
 * await verifyEntry(secret, key, entryDigest, entrySize, sig);      // true
 * ```
 *
 * @module
 */

/** Prefix of a signature in `executionMetadata.worker`. */
export const SIGNATURE_PREFIX = "kiln-hmac-sha256:";

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, k);
  }
  return k;
}

/** The signed message: a version tag, the action key and the entry blob's digest and size. */
function message(key: string, entryDigest: string, entrySize: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`kiln-remote-entry-v1\n${key}\n${entryDigest}\n${entrySize}`);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The signature of an entry, as stored: `kiln-hmac-sha256:<64 hex>`. */
export async function signEntry(
  secret: string,
  key: string,
  entryDigest: string,
  entrySize: number,
): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    message(key, entryDigest, entrySize),
  );
  return SIGNATURE_PREFIX + hex(mac);
}

/** Whether `signature` (as stored) signs this entry with `secret`. */
export async function verifyEntry(
  secret: string,
  key: string,
  entryDigest: string,
  entrySize: number,
  signature: string,
): Promise<boolean> {
  if (!signature.startsWith(SIGNATURE_PREFIX)) return false;
  const h = signature.slice(SIGNATURE_PREFIX.length);
  if (!/^[0-9a-f]{64}$/.test(h)) return false;
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return await crypto.subtle.verify(
    "HMAC",
    await hmacKey(secret),
    mac,
    message(key, entryDigest, entrySize),
  );
}
