/**
 * Unlocking a passphrase-protected v4 secret key (RFC 4880 sections 3.7 and 5.5.3): the S2K
 * specifier turns the passphrase into an AES key, and the secret MPIs are decrypted with it in
 * CFB mode and checked by their SHA-1 (usage 254) or 16-bit sum (255). GnuPG and openpgp.js
 * both protect keys this way (iterated and salted S2K, AES). Argon2 and AEAD protection
 * (RFC 9580) are left to openpgp.js: {@link unlockSecret} returns `{ unsupported }` for them.
 *
 * WebCrypto has neither AES-ECB nor incremental hashing (GnuPG's S2K counts run to tens of
 * megabytes), so this is node:crypto's, loaded only when a key is protected: an unprotected key
 * is read and used without Node compatibility's start-up cost.
 *
 * @module
 */

import { concatBytes } from "./packets.ts";

type NodeCrypto = typeof import("node:crypto");

/** AES in ECB mode: Deno's node:crypto has no CFB, which {@link cfbDecrypt} builds from it. */
const CIPHERS = new Map<number, { name: string; keyLen: number }>([
  [7, { name: "aes-128-ecb", keyLen: 16 }],
  [8, { name: "aes-192-ecb", keyLen: 24 }],
  [9, { name: "aes-256-ecb", keyLen: 32 }],
]);
const S2K_HASHES = new Map<number, string>([
  [2, "sha1"],
  [8, "sha256"],
  [9, "sha384"],
  [10, "sha512"],
  [11, "sha224"],
]);

/** What {@link unlockSecret} gives: the plain secret fields, or why it could not. */
export type Unlocked =
  | { readonly plain: Uint8Array }
  | { readonly unsupported: string }
  | { readonly wrongPassphrase: true };

function deriveKey(
  { createHash }: NodeCrypto,
  hash: string,
  keyLen: number,
  salt: Uint8Array,
  passphrase: Uint8Array,
  count: number,
): Uint8Array {
  const input = concatBytes([salt, passphrase]);
  // The salted passphrase repeated to `count` bytes (at least once), hashed 64 KiB at a time:
  // GnuPG's counts run to tens of megabytes.
  const total = Math.max(count, input.length);
  const block = new Uint8Array(Math.min(total, 65536 - (65536 % input.length)));
  for (let o = 0; o < block.length; o += input.length) {
    block.set(input.subarray(0, block.length - o), o);
  }
  const out: Uint8Array[] = [];
  let got = 0;
  for (let zeros = 0; got < keyLen; zeros++) {
    const h = createHash(hash);
    if (zeros) h.update(new Uint8Array(zeros)); // each further context is preloaded with zeros
    let left = total;
    while (left >= block.length) {
      h.update(block);
      left -= block.length;
    }
    if (left > 0) h.update(block.subarray(0, left));
    const d = h.digest();
    out.push(d);
    got += d.length;
  }
  return concatBytes(out).subarray(0, keyLen);
}

/**
 * Decrypts the secret fields that follow the public ones in a secret key packet (`secret`
 * starts at its S2K usage octet). Usage 0 (not protected) passes the fields through.
 */
export async function unlockSecret(
  secret: Uint8Array,
  passphrase: string | undefined,
): Promise<Unlocked> {
  const usage = secret[0];
  if (usage === 0) return { plain: secret.subarray(1) };
  if (usage !== 254 && usage !== 255) return { unsupported: `S2K usage ${usage}` };
  if (passphrase === undefined) return { unsupported: "a passphrase is needed" };
  const cipher = CIPHERS.get(secret[1]);
  if (!cipher) return { unsupported: `cipher ${secret[1]}` };
  const type = secret[2];
  const hash = S2K_HASHES.get(secret[3]);
  if (!hash) return { unsupported: `S2K hash ${secret[3]}` };
  let o = 4;
  let salt: Uint8Array = new Uint8Array(0);
  let count = 0;
  if (type === 1 || type === 3) {
    salt = secret.subarray(o, o + 8);
    o += 8;
  } else if (type !== 0) return { unsupported: `S2K type ${type}` };
  if (type === 3) {
    const c = secret[o++];
    count = (16 + (c & 15)) << ((c >> 4) + 6);
  }
  const iv = secret.subarray(o, o + 16);
  const node = await import("node:crypto");
  const passBytes = new TextEncoder().encode(passphrase);
  const key = deriveKey(node, hash, cipher.keyLen, salt, passBytes, count);
  const plain = cfbDecrypt(node, cipher.name, key, iv, secret.subarray(o + 16));
  if (usage === 254) {
    if (plain.length < 20) return { wrongPassphrase: true };
    const body = plain.subarray(0, plain.length - 20);
    const sha1 = node.createHash("sha1").update(body).digest();
    if (!sha1.equals(plain.subarray(plain.length - 20))) return { wrongPassphrase: true };
    return { plain: concatBytes([body, checksum16(body)]) };
  }
  const body = plain.subarray(0, plain.length - 2);
  const sum = checksum16(body);
  const got = plain.subarray(plain.length - 2);
  if (sum[0] !== got[0] || sum[1] !== got[1]) return { wrongPassphrase: true };
  return { plain };
}

/**
 * OpenPGP's CFB decryption (RFC 4880 section 13.9 without the resynchronisation, which secret
 * keys do not use): each plaintext block is the ciphertext block XOR the encryption of the
 * previous ciphertext block (the IV first), so the whole key stream is one ECB pass.
 */
function cfbDecrypt(
  { createCipheriv }: NodeCrypto,
  ecb: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const blocks = Math.ceil(data.length / 16);
  const feed = new Uint8Array(blocks * 16);
  feed.set(iv);
  feed.set(data.subarray(0, (blocks - 1) * 16), 16);
  const cipher = createCipheriv(ecb, key, null);
  cipher.setAutoPadding(false);
  const stream = concatBytes([cipher.update(feed), cipher.final()]);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ stream[i];
  return out;
}

/** The 16-bit sum of `bytes`, big-endian: the check of an unprotected secret key. */
export function checksum16(bytes: Uint8Array): Uint8Array {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xffff;
  return new Uint8Array([s >> 8, s & 0xff]);
}
