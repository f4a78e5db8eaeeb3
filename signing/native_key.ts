/**
 * Reads an armored OpenPGP private key with WebCrypto, not openpgp.js, for the keys release signing
 * uses: a v4 Ed25519 (legacy EdDSA or RFC 9580 Ed25519) or RSA primary key that signs itself,
 * unprotected or protected by an AES S2K passphrase, as `kiln keys generate`, GnuPG and
 * openpgp.js make them. Anything else (a separate signing subkey, revocations, expiry passed,
 * other algorithms, Argon2) is `{ unsupported }`, and `key.ts` reads it with openpgp.js instead,
 * which also gives the error message for a key that cannot sign: the two readers agree on every
 * key this one accepts, because it accepts only what openpgp.js would sign with the same way.
 *
 * The primary user's self-certification is verified, and the secret key is checked against the
 * public one, so a damaged key is never used to sign. node:crypto (about 15 ms to start in a
 * cold process) is loaded only to unlock a key protected by a passphrase (`s2k.ts`) or to check
 * a certification made with a hash WebCrypto lacks (SHA-224).
 *
 * @module
 */

import {
  concatBytes,
  dearmor,
  PacketError,
  readMpi,
  readPackets,
  readU32,
  u32,
  writePacket,
} from "./packets.ts";
import {
  ALGO,
  digest,
  HASHES,
  leftPad,
  type PacketSigningKey,
  parseSignature,
  type SignatureInfo,
  subpacketU32,
  verifySignature,
} from "./native_sign.ts";
import { checksum16, unlockSecret } from "./s2k.ts";

/** An unlocked key, read without openpgp.js. */
export interface NativeKey extends PacketSigningKey {
  readonly fingerprint: string;
  readonly created: Date;
  readonly expires: Date | null;
  readonly userId: string;
  /** The transferable public key (binary packets), as `gpg --export` would give it. */
  readonly publicPackets: Uint8Array;
  /** Bits of an RSA modulus; `null` for Ed25519. */
  readonly rsaBits: number | null;
  /** Hash algorithm of the primary user's self-certification (sqv refuses SHA-1). */
  readonly certHash: number;
}

/** What {@link readNativeKey} gives. */
export type NativeKeyResult =
  | NativeKey
  | { readonly unsupported: string }
  | { readonly wrongPassphrase: true };

const ED25519_OID = "2b06010401da470f01";
const SIGNING_ALGOS = new Set([1, 3, 17, 19, 22, 27, 28]);

interface PublicPart {
  readonly algorithm: number;
  readonly created: number;
  /** Length of the public fields: the packet body of the public key. */
  readonly end: number;
}

/** Where the public fields of a v4 key packet end, for every algorithm a key may hold. */
function publicPart(body: Uint8Array): PublicPart | string {
  if (body[0] !== 4) return `a version ${body[0]} key`;
  const algorithm = body[5];
  let o = 6;
  const mpis = (n: number) => {
    for (let i = 0; i < n; i++) o = readMpi(body, o).next;
  };
  const oid = () => (o += 1 + body[o]);
  switch (algorithm) {
    case 1:
    case 2:
    case 3:
      mpis(2);
      break;
    case 16:
      mpis(3);
      break;
    case 17:
      mpis(4);
      break;
    case 18:
      oid();
      mpis(1);
      o += 1 + body[o]; // KDF parameters
      break;
    case 19:
    case 22:
      oid();
      mpis(1);
      break;
    case 25:
    case 27:
      o += 32;
      break;
    case 26:
      o += 56;
      break;
    case 28:
      o += 57;
      break;
    default:
      return `public-key algorithm ${algorithm}`;
  }
  if (o > body.length) throw new PacketError("a key packet is truncated");
  return { algorithm, created: readU32(body, 1), end: o };
}

function issuedBy(sig: SignatureInfo, fpr: Uint8Array): boolean {
  const all = [...sig.hashed, ...sig.unhashed];
  const f = all.find((s) => s.type === 33);
  if (f) return f.data.subarray(1).toHex() === fpr.toHex();
  const id = all.find((s) => s.type === 16);
  return !id || id.data.toHex() === fpr.subarray(12).toHex();
}

const created = (sig: SignatureInfo) => subpacketU32(sig.hashed.find((s) => s.type === 2)) ?? 0;
const flag = (sig: SignatureInfo, type: number) => sig.hashed.find((s) => s.type === type);

/** `b` in base64url, as JWK fields are written. */
const base64url = (b: Uint8Array) => b.toBase64({ alphabet: "base64url", omitPadding: true });

/** The public key as a JWK (what WebCrypto imports), from the packet's public fields. */
function publicJwk(body: Uint8Array, algorithm: number): JsonWebKey | string {
  if (algorithm === ALGO.ed25519) {
    return { kty: "OKP", crv: "Ed25519", x: base64url(body.subarray(6, 38)) };
  }
  if (algorithm === ALGO.eddsaLegacy) {
    const oid = body.subarray(7, 7 + body[6]);
    if (oid.toHex() !== ED25519_OID) return "an EdDSA curve other than Ed25519";
    const point = readMpi(body, 7 + body[6]).value;
    if (point.length !== 33 || point[0] !== 0x40) return "an unusual Ed25519 point encoding";
    return { kty: "OKP", crv: "Ed25519", x: base64url(point.subarray(1)) };
  }
  const n = readMpi(body, 6);
  const e = readMpi(body, n.next);
  return { kty: "RSA", n: base64url(n.value), e: base64url(e.value) };
}

const big = (b: Uint8Array) => BigInt(`0x0${b.toHex()}`);
const bytesOf = (n: bigint) => {
  const h = n.toString(16);
  return Uint8Array.fromHex(h.length % 2 ? `0${h}` : h);
};
const MISMATCH = "a secret key that does not match its public key";
const PROBE = new TextEncoder().encode("kiln: does the secret key match its public key?");

/**
 * The private CryptoKey from the decrypted secret fields, checked against the public key. An
 * Ed25519 secret is checked by signing with it and verifying with the public key: WebCrypto
 * takes the public point alongside the secret without comparing them, and derives none.
 */
async function privateKey(
  body: Uint8Array,
  algorithm: number,
  fields: Uint8Array,
  publicKey: JsonWebKey,
): Promise<CryptoKey | string> {
  if (algorithm === ALGO.ed25519 || algorithm === ALGO.eddsaLegacy) {
    const seed = algorithm === ALGO.ed25519
      ? fields.subarray(0, 32)
      : leftPad(readMpi(fields, 0).value, 32);
    const jwk = { ...publicKey, d: base64url(seed) };
    const key = await crypto.subtle.importKey("jwk", jwk, "Ed25519", false, ["sign"]);
    const pub = await crypto.subtle.importKey("jwk", publicKey, "Ed25519", false, ["verify"]);
    const probe = await crypto.subtle.sign("Ed25519", key, PROBE);
    return await crypto.subtle.verify("Ed25519", pub, probe, PROBE) ? key : MISMATCH;
  }
  const n = readMpi(body, 6);
  const e = readMpi(body, n.next);
  const d = readMpi(fields, 0);
  const p = readMpi(fields, d.next);
  const q = readMpi(fields, p.next);
  const u = readMpi(fields, q.next);
  const [N, E, D, P, Q] = [n, e, d, p, q].map((m) => big(m.value));
  if (P * Q !== N || (D * E) % (P - 1n) !== 1n || (D * E) % (Q - 1n) !== 1n) return MISMATCH;
  // OpenPGP stores p < q and u = p^-1 mod q: JWK's first prime is OpenPGP's q, so qi is u.
  const jwk = {
    kty: "RSA",
    n: base64url(n.value),
    e: base64url(e.value),
    d: base64url(d.value),
    p: base64url(q.value),
    q: base64url(p.value),
    dp: base64url(bytesOf(D % (Q - 1n))),
    dq: base64url(bytesOf(D % (P - 1n))),
    qi: base64url(u.value),
  };
  const algo = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }; // what signaturePacket uses
  return await crypto.subtle.importKey("jwk", jwk, algo, false, ["sign"]);
}

/** The length of the secret fields of `algorithm`, from their start. */
function secretFieldsEnd(fields: Uint8Array, algorithm: number): number {
  if (algorithm === ALGO.ed25519) return 32;
  if (algorithm === ALGO.eddsaLegacy) return readMpi(fields, 0).next;
  let o = 0;
  for (let i = 0; i < 4; i++) o = readMpi(fields, o).next;
  return o;
}

/**
 * Reads `armored` (a private key block) and unlocks it with `passphrase` when it is protected.
 *
 * @example
 * ```ts
 * const k = await readNativeKey(Deno.readTextFileSync("release.key.asc"));
 * if ("fingerprint" in k) console.log(await nativeDetached(k, "hello\n"));
 * ```
 */
export async function readNativeKey(
  armored: string,
  passphrase?: string,
  now = new Date(),
): Promise<NativeKeyResult> {
  try {
    return await read(armored, passphrase, now);
  } catch (e) {
    if (e instanceof PacketError || e instanceof TypeError || e instanceof RangeError) {
      return { unsupported: e.message };
    }
    // WebCrypto's refusals of malformed key material (DOMException) are not bugs of ours.
    return { unsupported: e instanceof Error ? e.message : String(e) };
  }
}

async function read(
  armored: string,
  passphrase: string | undefined,
  now: Date,
): Promise<NativeKeyResult> {
  const bytes = dearmor(armored, "PGP PRIVATE KEY BLOCK");
  if (!bytes) return { unsupported: "no armored private key block" };
  const packets = readPackets(bytes).filter((p) => p.tag !== 12 && p.tag !== 10); // trust, marker
  const primary = packets[0];
  if (primary?.tag !== 5) return { unsupported: "no secret primary key first" };
  const pub = publicPart(primary.body);
  if (typeof pub === "string") return { unsupported: pub };
  const { algorithm } = pub;
  if (![ALGO.rsa, ALGO.rsaSign, ALGO.eddsaLegacy, ALGO.ed25519].includes(algorithm as 1)) {
    return { unsupported: `public-key algorithm ${algorithm}` };
  }
  const pubBody = primary.body.subarray(0, pub.end);
  const keyPrefix = concatBytes([[0x99, pubBody.length >> 8, pubBody.length & 0xff], pubBody]);
  const fingerprintBytes = await digest(2, keyPrefix); // SHA-1, as v4 fingerprints are
  const publicKey = publicJwk(primary.body, algorithm);
  if (typeof publicKey === "string") return { unsupported: publicKey };

  // Walk the rest: user IDs with their certifications, subkeys with their bindings.
  const users: { id: Uint8Array; certs: SignatureInfo[]; revoked: boolean }[] = [];
  const publicOut: Uint8Array[] = [];
  let section: "key" | "user" | "attribute" | "subkey" = "key";
  let subkeyAlgo = 0;
  for (const p of packets) {
    if (p === primary) {
      publicOut.push(writePacket(6, pubBody));
      continue;
    }
    if (p.tag === 13 || p.tag === 17) {
      section = p.tag === 13 ? "user" : "attribute";
      if (p.tag === 13) users.push({ id: p.body, certs: [], revoked: false });
      publicOut.push(writePacket(p.tag, p.body));
    } else if (p.tag === 7 || p.tag === 14) {
      const sub = publicPart(p.body);
      if (typeof sub === "string") return { unsupported: `a subkey with ${sub}` };
      section = "subkey";
      subkeyAlgo = sub.algorithm;
      publicOut.push(writePacket(14, p.body.subarray(0, sub.end)));
    } else if (p.tag === 2) {
      publicOut.push(writePacket(2, p.body));
      const sig = parseSignature(p.body);
      if (!sig) return { unsupported: "a version 3 signature" };
      if (!issuedBy(sig, fingerprintBytes)) continue; // a third party's certification
      if (section === "key") return { unsupported: `a direct-key signature (type ${sig.type})` };
      if (section === "user") {
        const u = users[users.length - 1];
        if (sig.type === 0x30) u.revoked = true;
        else if (sig.type >= 0x10 && sig.type <= 0x13) u.certs.push(sig);
      } else if (section === "subkey" && sig.type === 0x18 && SIGNING_ALGOS.has(subkeyAlgo)) {
        const flags = flag(sig, 27);
        if (!flags || flags.data[0] & 0x02) return { unsupported: "a subkey that may sign" };
      }
    } else return { unsupported: `packet tag ${p.tag}` };
  }

  // The primary user as openpgp.js picks it: not revoked, marked primary, newest certification.
  const candidates = users.filter((u) => !u.revoked && u.certs.length).map((u) => {
    const cert = u.certs.reduce((a, b) => (created(b) >= created(a) ? b : a));
    return { u, cert, primary: flag(cert, 25)?.data[0] ? 1 : 0 };
  });
  candidates.sort((a, b) => a.primary - b.primary || created(a.cert) - created(b.cert));
  const chosen = candidates.pop();
  if (!chosen) return { unsupported: "no certified user ID" };
  const { cert } = chosen;
  if (
    cert.hashed.some((s) =>
      s.critical && ![2, 9, 25, 27, 11, 21, 22, 23, 30, 33, 16].includes(s.type)
    )
  ) {
    return { unsupported: "a critical subpacket kiln does not read" }; // a critical notation too
  }
  if (flag(cert, 3)) return { unsupported: "a self-certification that expires" };
  // openpgp.js refuses MD5 and RIPEMD-160, and EdDSA over less than 256 bits (RFC 9580).
  const eddsa = algorithm === ALGO.eddsaLegacy || algorithm === ALGO.ed25519;
  if ([1, 3].includes(cert.hash) || (eddsa && [2, 11].includes(cert.hash))) {
    return { unsupported: `a self-certification hashed with ${HASHES.get(cert.hash)}` };
  }
  // openpgp.js (v6) signs only with a key whose flags are present and allow signing.
  const keyFlags = flag(cert, 27);
  if (!keyFlags || !(keyFlags.data[0] & 0x02)) {
    return { unsupported: "a primary key not flagged to sign" };
  }
  // gpgv refuses signatures older than their key, and openpgp.js such a key.
  if (pub.created * 1000 > now.getTime() || created(cert) * 1000 > now.getTime()) {
    return { unsupported: "a key or self-certification dated in the future" };
  }
  const userPrefix = concatBytes([[0xb4, ...u32(chosen.u.id.length)], chosen.u.id]);
  if (!(await verifySignature(cert, concatBytes([keyPrefix, userPrefix]), publicKey))) {
    return { unsupported: "a self-certification that does not verify" };
  }
  const lifetime = subpacketU32(flag(cert, 9)) ?? 0;
  const expires = lifetime ? new Date((pub.created + lifetime) * 1000) : null;
  if (expires && expires <= now) return { unsupported: "an expired key" };

  // The secret fields: unlock, check their sum, and check them against the public key.
  const unlocked = await unlockSecret(primary.body.subarray(pub.end), passphrase);
  if ("unsupported" in unlocked) return unlocked;
  if ("wrongPassphrase" in unlocked) return unlocked;
  const fieldsEnd = secretFieldsEnd(unlocked.plain, algorithm);
  const fields = unlocked.plain.subarray(0, fieldsEnd);
  const sum = checksum16(fields);
  const stored = unlocked.plain.subarray(fieldsEnd, fieldsEnd + 2);
  if (stored.length === 2 && (sum[0] !== stored[0] || sum[1] !== stored[1])) {
    return { unsupported: "a secret key whose checksum fails" };
  }
  const secret = await privateKey(primary.body, algorithm, fields, publicKey);
  if (typeof secret === "string") return { unsupported: secret };
  const rsaBits = algorithm === ALGO.rsa || algorithm === ALGO.rsaSign
    ? ((primary.body[6] << 8) | primary.body[7])
    : null;
  if (rsaBits !== null && rsaBits < 2047) return { unsupported: "an RSA key openpgp.js refuses" };
  return {
    algorithm,
    fingerprintBytes,
    fingerprint: fingerprintBytes.toHex().toUpperCase(),
    privateKey: secret,
    created: new Date(pub.created * 1000),
    expires,
    userId: new TextDecoder().decode(chosen.u.id),
    publicPackets: concatBytes(publicOut),
    rsaBits,
    certHash: cert.hash,
  };
}
