/**
 * Throwaway OpenPGP signing keys for tests, and a GnuPG keyring `gpgv` can check their
 * signatures with.
 *
 * @module
 */

import * as openpgp from "openpgp";
import { readSigningKey, type SigningKey } from "../../signing/key.ts";

/** A fresh unlocked key: Ed25519 (v4 EdDSA as `ed25519Legacy`: GnuPG 2.2 rejects RFC 9580's new Ed25519) unless `rsa` is set. */
export async function testSigningKey(
  opts: { rsa?: boolean; expires?: number } = {},
): Promise<SigningKey> {
  const { privateKey } = await openpgp.generateKey({
    ...(opts.rsa ? { type: "rsa", rsaBits: 4096 } : { type: "ecc", curve: "ed25519Legacy" }),
    userIDs: [{ name: "kiln test", email: "test@kiln.invalid" }],
    keyExpirationTime: opts.expires,
    format: "armored",
  });
  const key = await readSigningKey(privateKey, "a test key");
  if ("reason" in key) throw new Error(key.message);
  return key;
}

/** Writes `key`'s public key as a binary keyring file at `path` (for `gpgv --keyring`). */
export async function writeKeyring(key: SigningKey, path: string): Promise<void> {
  await Deno.writeFile(path, key.key.toPublic().write());
}
