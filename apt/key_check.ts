/**
 * Refuses signing keys newer apt would reject. Since apt 2.7 (Debian 13, Ubuntu 24.04) `InRelease`
 * is checked by sqv under Sequoia's policy: no SHA-1 (or MD5, RIPEMD-160) in the data signature
 * nor in the self-signatures that bind the user ID and the signing subkey, and no RSA or DSA key
 * under 2048 bits. kiln signs with SHA-512 itself; this catches a key made long ago with weak
 * binding signatures, which would publish a repository that older clients accept and newer ones
 * refuse.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { SigningKey } from "../signing/key.ts";

/** The signing key would be rejected by apt's sqv. */
export const APT_SIGNING_KEY_WEAK = "apt-signing-key-weak";

/** OpenPGP hash algorithm IDs sqv refuses (RFC 4880 9.4), by name; numbers, so that checking a
 * key does not load OpenPGP. */
const WEAK_HASHES = new Map<number, string>([[1, "MD5"], [2, "SHA1"], [3, "RIPEMD160"]]);

function hashName(id: number): string {
  return WEAK_HASHES.get(id) ?? `hash ${id}`;
}

function weak(key: SigningKey, why: string): Failure {
  return failure(
    APT_SIGNING_KEY_WEAK,
    `Signing key ${key.fingerprint} ${why}, which apt's sqv rejects; ` +
      `make a new key (Ed25519, or RSA of at least 3072 bits) and publish with it`,
  );
}

/** Null when apt accepts signatures by `key`, else why not. */
export function checkAptSigningKey(key: SigningKey): Promise<Failure | null> {
  // Checking verifies the key's self-signatures (milliseconds each); a key is checked once.
  let checked = CHECKED.get(key);
  if (!checked) CHECKED.set(key, checked = key.native ? checkNative(key) : check(key));
  return checked;
}

/** The same checks on a key kiln's own reader read (its self-certification already verified). */
function checkNative(key: SigningKey): Promise<Failure | null> {
  const k = key.native!;
  if (k.rsaBits !== null && k.rsaBits < 2048) {
    return Promise.resolve(weak(key, `signs with a ${k.rsaBits}-bit rsa key`));
  }
  if (WEAK_HASHES.has(k.certHash)) {
    return Promise.resolve(
      weak(key, `binds its user ID with a ${hashName(k.certHash)} signature`),
    );
  }
  return Promise.resolve(null);
}

const CHECKED = new WeakMap<object, Promise<Failure | null>>();

async function check(key: SigningKey): Promise<Failure | null> {
  const k = key.key!;
  const signer = await k.getSigningKey();
  const info = signer.getAlgorithmInfo();
  if (/^(rsa|dsa|elgamal)/i.test(String(info.algorithm)) && (info.bits ?? 0) < 2048) {
    return weak(key, `signs with a ${info.bits}-bit ${info.algorithm} key`);
  }
  const user = await k.getPrimaryUser().catch(() => null);
  const cert = user?.selfCertification;
  if (cert && WEAK_HASHES.has(cert.hashAlgorithm!)) {
    return weak(key, `binds its user ID with a ${hashName(cert.hashAlgorithm!)} signature`);
  }
  if (signer !== k) {
    const sub = k.subkeys.find((s) => s.getKeyID().equals(signer.getKeyID()));
    for (const b of sub?.bindingSignatures ?? []) {
      if (WEAK_HASHES.has(b.hashAlgorithm!)) {
        return weak(key, `binds its signing subkey with a ${hashName(b.hashAlgorithm!)} signature`);
      }
      const back = b.embeddedSignature?.hashAlgorithm;
      if (back !== undefined && back !== null && WEAK_HASHES.has(back)) {
        return weak(key, `cross-certifies its signing subkey with ${hashName(back)}`);
      }
    }
  }
  return null;
}
