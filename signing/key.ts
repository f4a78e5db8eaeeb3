/**
 * A release signing key, unlocked and ready to sign: the one shape every signer (APT indexes,
 * release checksums) takes, so where the key came from (a file, an env var, a throwaway) is
 * decided once (see `key_source.ts`). The armored secret is never kept as text here, so it cannot
 * end up in a log line, a task parameter or a cache entry by accident.
 *
 * Keys are read by kiln's own reader (`native_key.ts`, WebCrypto) when it can, which is every
 * key `kiln keys generate` or a default GnuPG makes; openpgp.js (about 100 ms to load in a cold
 * process) reads the others and is loaded only then.
 *
 * @module
 */

import type * as openpgp from "openpgp";
import { type Failure, failure } from "../engine/failure.ts";
import { type NativeKey, readNativeKey } from "./native_key.ts";
import { armor } from "./packets.ts";

/** The key was unreadable, locked without a passphrase, or cannot sign. */
export const SIGNING_KEY_INVALID = "signing-key-invalid";

/** An unlocked private key with the public facts callers print and put in task keys. */
export interface SigningKey {
  /** The key for kiln's own signer, when it reads this kind of key. Never log it. */
  readonly native?: NativeKey;
  /** The decrypted openpgp.js key otherwise. Never log it or pass it to a task's params. */
  readonly key?: openpgp.PrivateKey;
  /** Primary key fingerprint, uppercase hex: the public identity that enters task keys. */
  readonly fingerprint: string;
  /** When the primary key expires, or `null` when it does not. */
  readonly expires: Date | null;
  /** The primary user ID, e.g. `kiln release <release@example.org>`. */
  readonly userId: string;
  /** The armored public key, for users to install (`apt` keyrings, `gpgv --keyring`). */
  readonly publicArmored: string;
  /** The public key as binary packets: the keyring file apt's `signed-by=` and gpgv take. */
  readonly publicBinary: Uint8Array;
}

const wrongPassphrase = (name: string) =>
  failure(
    SIGNING_KEY_INVALID,
    `Signing key from ${name} did not unlock with the passphrase given; ` +
      `check KILN_SIGNING_KEY_PASSPHRASE`,
  );

/**
 * Reads an armored private key and unlocks it with `passphrase` when it is encrypted. `name` says
 * where the key came from, for messages (never the key itself).
 *
 * @example
 * ```ts
 * const key = await readSigningKey(Deno.readTextFileSync("release.key.asc"), "release.key.asc");
 * if ("reason" in key) console.error(key.message);
 * ```
 */
export async function readSigningKey(
  armored: string,
  name: string,
  passphrase?: string,
): Promise<SigningKey | Failure> {
  const native = await readNativeKey(armored, passphrase);
  if ("wrongPassphrase" in native) return wrongPassphrase(name);
  if (!("unsupported" in native)) {
    return {
      native,
      fingerprint: native.fingerprint,
      expires: native.expires,
      userId: native.userId,
      publicArmored: armor("PGP PUBLIC KEY BLOCK", native.publicPackets),
      publicBinary: native.publicPackets,
    };
  }
  const openpgp = await import("openpgp");
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (e) {
    return failure(
      SIGNING_KEY_INVALID,
      `Signing key from ${name} is not an armored OpenPGP private key (${firstLine(e)}); ` +
        `export one with "gpg --armor --export-secret-keys" or run "kiln keys generate"`,
    );
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined) {
      return failure(
        SIGNING_KEY_INVALID,
        `Signing key from ${name} is protected by a passphrase; set KILN_SIGNING_KEY_PASSPHRASE`,
      );
    }
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch {
      return wrongPassphrase(name);
    }
  }
  try {
    await key.getSigningKey();
  } catch (e) {
    return failure(
      SIGNING_KEY_INVALID,
      `Signing key from ${name} cannot sign (${firstLine(e)}); use a key with a valid signing key`,
    );
  }
  const expiry = await key.getExpirationTime();
  const user = await key.getPrimaryUser().catch(() => null);
  return {
    key,
    fingerprint: key.getFingerprint().toUpperCase(),
    expires: expiry instanceof Date ? expiry : null,
    userId: user?.user.userID?.userID ?? "",
    publicArmored: key.toPublic().armor(),
    publicBinary: key.toPublic().write(),
  };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0].replace(/[.:]\s*$/, "");
}
