/**
 * Throwaway OpenPGP signing keys for tests, made the way `kiln keys generate` makes them, and a
 * keyring `gpgv` can check their signatures with.
 *
 * @module
 */

import { generateRepositoryKey } from "../../signing/generate.ts";
import { readSigningKey, type SigningKey } from "../../signing/key.ts";

/**
 * A fresh unlocked key: Ed25519 (v4 `ed25519Legacy`, which GnuPG 2.2 accepts) unless `rsa`, with
 * its armored private key for tests that hand it on.
 */
export async function testSigningKey(
  opts: { rsa?: boolean } = {},
): Promise<SigningKey & { readonly armored: string }> {
  const generated = await generateRepositoryKey({
    name: "kiln test",
    email: "test@kiln.invalid",
    algorithm: opts.rsa ? "rsa4096" : "ed25519",
  });
  const key = await readSigningKey(generated.privateArmored, "a test key");
  if ("reason" in key) throw new Error(key.message);
  return { ...key, armored: generated.privateArmored };
}

/** Writes `key`'s public key as a binary keyring file at `path` (for `gpgv --keyring`). */
export async function writeKeyring(key: SigningKey, path: string): Promise<void> {
  await Deno.writeFile(path, key.publicBinary);
}
