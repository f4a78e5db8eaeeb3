/**
 * OpenPGP signatures in the forms release consumers check: a detached ASCII-armored signature
 * (`Release.gpg`, `SHA256SUMS.asc`) and a cleartext-signed document (`InRelease`). Both use
 * SHA-512, which every verifier in use accepts, including apt's sqv (which refuses SHA-1).
 *
 * @module
 */

import * as openpgp from "openpgp";
import type { SigningKey } from "./key.ts";

const config = { preferredHashAlgorithm: openpgp.enums.hash.sha512 };

/**
 * A detached, ASCII-armored signature of `data` (binary signature of the exact bytes).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("dist/SHA256SUMS.asc", await signDetached(key, sums));
 * ```
 */
export async function signDetached(key: SigningKey, data: Uint8Array | string): Promise<string> {
  const binary = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const message = await openpgp.createMessage({ binary });
  return await openpgp.sign({
    message,
    signingKeys: key.key,
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
  const message = await openpgp.createCleartextMessage({ text });
  return await openpgp.sign({ message, signingKeys: key.key, format: "armored", config });
}
