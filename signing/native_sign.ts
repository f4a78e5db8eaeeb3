/**
 * OpenPGP v4 signatures made with WebCrypto: what `InRelease`, `Release.gpg` and
 * `SHA256SUMS.asc` need, without loading openpgp.js (about 100 ms of a cold process, on a core
 * xz wants) or node:crypto (about 15 ms of Node compatibility start-up, which an APT publish
 * would pay for nothing). The packets are what openpgp.js writes for the same key: SHA-512,
 * hashed creation time (critical), a salt notation (openpgp.js's guard against fault attacks on
 * deterministic EdDSA) and the issuer fingerprint, and the issuer key ID unhashed. Checked by gpgv
 * and openpgp.js in `test/unit/signing_native_test.ts`.
 *
 * @module
 */

import {
  armor,
  concatBytes,
  mpi,
  PacketError,
  readMpi,
  readSubpackets,
  readU32,
  type Subpacket,
  subpacket,
  u32,
  writePacket,
} from "./packets.ts";

/** OpenPGP public-key algorithm IDs kiln signs with natively. */
export const ALGO = { rsa: 1, rsaSign: 3, eddsaLegacy: 22, ed25519: 27 } as const;

/** OpenPGP hash algorithm IDs and their names (node:crypto's, and in kiln's messages). */
export const HASHES: ReadonlyMap<number, string> = new Map([
  [1, "md5"],
  [2, "sha1"],
  [3, "ripemd160"],
  [8, "sha256"],
  [9, "sha384"],
  [10, "sha512"],
  [11, "sha224"],
]);

/** The hashes WebCrypto has; the others (MD5, RIPEMD-160, SHA-224) are node:crypto's alone. */
const SUBTLE_HASHES: ReadonlyMap<number, string> = new Map([
  [2, "SHA-1"],
  [8, "SHA-256"],
  [9, "SHA-384"],
  [10, "SHA-512"],
]);
const SHA512 = 10;
const SALT_NOTATION = new TextEncoder().encode("salt@notations.openpgpjs.org");
const RSA_PKCS1 = "RSASSA-PKCS1-v1_5";

/**
 * What a signer needs of its key: the v4 identity and WebCrypto's private key (Ed25519, or RSA
 * bound to SHA-512, the hash every signature here uses).
 */
export interface PacketSigningKey {
  readonly algorithm: number;
  readonly fingerprintBytes: Uint8Array;
  readonly privateKey: CryptoKey;
}

/** WebCrypto's types take arrays over an ArrayBuffer (not shared memory): all arrays here are. */
const own = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

/**
 * The OpenPGP hash `hash` of `data`, with WebCrypto; node:crypto is loaded (once, lazily) only
 * for the hashes WebCrypto lacks, which only old self-certifications use.
 */
export async function digest(hash: number, data: Uint8Array): Promise<Uint8Array> {
  const subtle = SUBTLE_HASHES.get(hash);
  if (subtle) return new Uint8Array(await crypto.subtle.digest(subtle, own(data)));
  const name = HASHES.get(hash);
  if (!name) throw new PacketError(`hash algorithm ${hash}`);
  const { createHash } = await import("node:crypto");
  return new Uint8Array(createHash(name).update(data).digest());
}

/** A parsed v4 signature packet. */
export interface SignatureInfo {
  readonly type: number;
  readonly algorithm: number;
  readonly hash: number;
  readonly hashed: readonly Subpacket[];
  readonly unhashed: readonly Subpacket[];
  /** Version through the end of the hashed area: what the hash covers after the data. */
  readonly signedPart: Uint8Array;
  readonly left16: Uint8Array;
  /** The signature value: the MPIs concatenated (RSA: s; EdDSA: r then s, each 32 bytes). */
  readonly value: Uint8Array;
}

/** Parses a v4 signature packet's body; `null` for other versions. */
export function parseSignature(body: Uint8Array): SignatureInfo | null {
  if (body[0] !== 4) return null;
  const hashedLen = (body[4] << 8) | body[5];
  const hashedEnd = 6 + hashedLen;
  const unhashedLen = (body[hashedEnd] << 8) | body[hashedEnd + 1];
  const unhashedEnd = hashedEnd + 2 + unhashedLen;
  if (unhashedEnd + 2 > body.length) throw new PacketError("a signature packet is truncated");
  const algorithm = body[2];
  const o = unhashedEnd + 2;
  let value: Uint8Array;
  if (algorithm === ALGO.ed25519) value = body.subarray(o, o + 64);
  else if (algorithm === ALGO.eddsaLegacy) {
    const r = readMpi(body, o);
    const s = readMpi(body, r.next);
    value = concatBytes([leftPad(r.value, 32), leftPad(s.value, 32)]);
  } else {
    value = readMpi(body, o).value;
  }
  return {
    type: body[1],
    algorithm,
    hash: body[3],
    hashed: readSubpackets(body.subarray(6, hashedEnd)),
    unhashed: readSubpackets(body.subarray(hashedEnd + 2, unhashedEnd)),
    signedPart: body.subarray(0, hashedEnd),
    left16: body.subarray(unhashedEnd, unhashedEnd + 2),
    value,
  };
}

/** `bytes` left-padded with zeros to `n` bytes (an MPI's dropped leading zeros back). */
export function leftPad(bytes: Uint8Array, n: number): Uint8Array {
  if (bytes.length >= n) return bytes;
  const out = new Uint8Array(n);
  out.set(bytes, n - bytes.length);
  return out;
}

/** The v4 trailer that ends every hashed signature input. */
function trailer(signedPart: Uint8Array): number[] {
  return [4, 0xff, ...u32(signedPart.length)];
}

/** The length of an RSA JWK's modulus in bytes, its leading zeros (if any) not counted. */
function modulusBytes(jwk: JsonWebKey): number {
  const n = Uint8Array.fromBase64(jwk.n ?? "", { alphabet: "base64url" });
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  return n.length - i;
}

/**
 * Whether `sig` is a valid signature by `publicKey` (its JWK: RSA or Ed25519) over `prefix` (what
 * precedes the signature's own fields in the hash: the data, or a key and user ID for a
 * certification). A JWK rather than a key, because WebCrypto binds an RSA key to one hash.
 */
export async function verifySignature(
  sig: SignatureInfo,
  prefix: Uint8Array,
  publicKey: JsonWebKey,
): Promise<boolean> {
  const name = HASHES.get(sig.hash);
  if (!name) return false;
  const input = concatBytes([prefix, sig.signedPart, trailer(sig.signedPart)]);
  const hashed = await digest(sig.hash, input);
  if (hashed[0] !== sig.left16[0] || hashed[1] !== sig.left16[1]) return false;
  try {
    if (sig.algorithm === ALGO.eddsaLegacy || sig.algorithm === ALGO.ed25519) {
      const key = await crypto.subtle.importKey("jwk", publicKey, "Ed25519", false, ["verify"]);
      return await crypto.subtle.verify("Ed25519", key, own(sig.value), own(hashed));
    }
    // The MPI dropped any leading zero bytes, which PKCS #1 wants back: as long as the modulus.
    const value = leftPad(sig.value, modulusBytes(publicKey));
    const subtle = SUBTLE_HASHES.get(sig.hash);
    if (!subtle) { // SHA-224 (MD5 and RIPEMD-160 are refused before): node:crypto has it
      const { createPublicKey, verify } = await import("node:crypto");
      const { n, e } = publicKey;
      return verify(
        name,
        input,
        createPublicKey({ key: { kty: "RSA", n, e }, format: "jwk" }),
        value,
      );
    }
    const algorithm = { name: RSA_PKCS1, hash: subtle };
    const key = await crypto.subtle.importKey("jwk", publicKey, algorithm, false, ["verify"]);
    return await crypto.subtle.verify(RSA_PKCS1, key, own(value), own(input));
  } catch {
    return false;
  }
}

/**
 * A v4 signature packet (whole, header included) over `data` by `key`: type `0x00` signs the
 * bytes, `0x01` the canonical text (the caller passes it with CRLF line ends).
 */
export async function signaturePacket(
  key: PacketSigningKey,
  data: Uint8Array,
  type: 0x00 | 0x01,
  created: Date = new Date(),
): Promise<Uint8Array> {
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const notation = [0, 0, 0, 0, 0, SALT_NOTATION.length, 0, salt.length, ...SALT_NOTATION, ...salt];
  const hashedArea = [
    ...subpacket(2, u32(Math.floor(created.getTime() / 1000)), true),
    ...subpacket(20, notation),
    ...subpacket(33, [4, ...key.fingerprintBytes]),
  ];
  const signedPart = new Uint8Array([
    4,
    type,
    key.algorithm,
    SHA512,
    hashedArea.length >> 8,
    hashedArea.length & 0xff,
    ...hashedArea,
  ]);
  const input = concatBytes([data, signedPart, trailer(signedPart)]);
  const hashed = await digest(SHA512, input);
  // EdDSA signs the digest (as OpenPGP has it), RSA the input (PKCS #1 hashes it with SHA-512).
  let value: Uint8Array;
  if (key.algorithm === ALGO.eddsaLegacy || key.algorithm === ALGO.ed25519) {
    const s = new Uint8Array(await crypto.subtle.sign("Ed25519", key.privateKey, own(hashed)));
    value = key.algorithm === ALGO.ed25519
      ? s
      : concatBytes([mpi(s.subarray(0, 32)), mpi(s.subarray(32))]);
  } else {
    value = mpi(new Uint8Array(await crypto.subtle.sign(RSA_PKCS1, key.privateKey, own(input))));
  }
  const unhashedArea = subpacket(16, key.fingerprintBytes.subarray(12));
  return writePacket(
    2,
    concatBytes([
      signedPart,
      [unhashedArea.length >> 8, unhashedArea.length & 0xff],
      unhashedArea,
      hashed.subarray(0, 2),
      value,
    ]),
  );
}

/**
 * Text as a cleartext signature signs it: trailing spaces and tabs dropped from each line,
 * line ends CRLF (RFC 4880 section 7.1, and what openpgp.js does).
 */
export function canonicalText(text: string): string {
  return text.split("\n").map((line) => line.replace(/[ \t\r]+$/, "")).join("\r\n");
}

/** A detached, armored signature of the exact bytes of `data`. */
export async function nativeDetached(
  key: PacketSigningKey,
  data: Uint8Array | string,
): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return armor("PGP SIGNATURE", await signaturePacket(key, bytes, 0x00));
}

/**
 * `text` clearsigned, with LF line ends and a blank line before the signature when `text` ends
 * with a line end (openpgp.js's layout: the signed text keeps its final line end).
 */
export async function nativeClearsign(key: PacketSigningKey, text: string): Promise<string> {
  const canonical = canonicalText(text);
  const packet = await signaturePacket(key, new TextEncoder().encode(canonical), 0x01);
  const shown = canonical.split("\r\n").map((l) => (l.startsWith("-") ? `- ${l}` : l)).join("\n");
  return `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${shown}\n` +
    armor("PGP SIGNATURE", packet);
}

/** Reads the 32-bit number of a subpacket's data (a time or a number of seconds). */
export function subpacketU32(s: Subpacket | undefined): number | null {
  return s && s.data.length >= 4 ? readU32(s.data, 0) : null;
}
