/**
 * OpenPGP signatures in the forms release consumers check: a detached ASCII-armored signature
 * (`Release.gpg`, `SHA256SUMS.asc`) and a cleartext-signed document (`InRelease`). Both use
 * SHA-512, which every verifier in use accepts, including apt's sqv (which refuses SHA-1).
 *
 * @module
 */

import type { SigningKey } from "./key.ts";
import { nativeClearsign, nativeDetached } from "./native_sign.ts";

/** openpgp.js, loaded only for a key kiln's own signer does not read. */
async function openpgpFor(key: SigningKey) {
  const openpgp = await import("openpgp");
  if (!key.key) throw new Error(`Signing key ${key.fingerprint} has neither signer`);
  return { openpgp, key: key.key, config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 } };
}

/**
 * A detached, ASCII-armored signature of `data` (binary signature of the exact bytes).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("dist/SHA256SUMS.asc", await signDetached(key, sums));
 * ```
 */
export async function signDetached(key: SigningKey, data: Uint8Array | string): Promise<string> {
  if (key.native) return nativeDetached(key.native, data);
  const { openpgp, key: k, config } = await openpgpFor(key);
  const binary = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const message = await openpgp.createMessage({ binary });
  return await openpgp.sign({
    message,
    signingKeys: k,
    detached: true,
    format: "armored",
    config,
  }) as string;
}

/**
 * `text` wrapped in a cleartext signature (`-----BEGIN PGP SIGNED MESSAGE-----`), as apt's
 * `InRelease`. Lines are signed as text (trailing whitespace is not significant, CRLF canonical).
 */
export async function clearsign(key: SigningKey, text: string): Promise<string> {
  if (key.native) return nativeClearsign(key.native, text);
  const { openpgp, key: k, config } = await openpgpFor(key);
  const message = await openpgp.createCleartextMessage({ text });
  return await openpgp.sign({ message, signingKeys: k, format: "armored", config });
}
