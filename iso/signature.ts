/**
 * OpenPGP checks of a distro's checksum file, with openpgp.js: a detached signature (binary or
 * armored) over the file's bytes, or a clearsigned file, whose signed text is the only text
 * returned.
 *
 * Trust comes from pins, never from whatever key material a mirror hands out: key files are read,
 * every key whose primary fingerprint is not pinned is dropped, and a signature counts only when
 * it was made by a pinned primary key or by a signing subkey bound to one. Every failure is a
 * value whose reason is `iso-signature-invalid` (the signature does not verify, or cannot be read)
 * or `iso-key-unpinned` (no pinned key in the key material, or the signer is not pinned).
 *
 * Reading the key files and keeping only pinned keys is `keys.ts`; this module checks signatures
 * against the keys it kept.
 *
 * @module
 */

import * as openpgp from "openpgp";
import { type Failure, failure } from "../engine/failure.ts";
import { errorText, KEY_UNPINNED, looksArmored, type PinnedKeys } from "./keys.ts";

export {
  KEY_UNPINNED,
  type KeyMaterial,
  normalizeFingerprint,
  type PinnedKeys,
  readPinnedKeys,
} from "./keys.ts";

/** The signature does not verify, is missing or cannot be read. */
export const SIGNATURE_INVALID = "iso-signature-invalid";

/** Who made a verified signature. */
export interface Signer {
  /** Fingerprint of the pinned primary key (uppercase hex). */
  readonly signer: string;
  /** Fingerprint of the key that signed: the primary key or one of its signing subkeys. */
  readonly signingKey: string;
}

/** A verified clearsigned file: its signer, and the signed text (nothing outside the signature). */
export interface SignedText extends Signer {
  readonly text: string;
}

const decoder = new TextDecoder();

type Verifications = Awaited<ReturnType<typeof openpgp.verify>>["signatures"];

/** Decides what the signatures of a message say: a pinned signer, or why not. */
async function judge(
  sigs: Verifications,
  keys: PinnedKeys,
  what: string,
): Promise<Signer | Failure> {
  // Settle every promise first: an unawaited rejection would crash the process.
  const outcomes = await Promise.allSettled(sigs.map((s) => s.verified));
  const good: Signer[] = [];
  const unpinned: string[] = [];
  for (const [i, sig] of sigs.entries()) {
    const id = sig.keyID.toHex().toUpperCase();
    const owner = keys.keys.find((k) => k.getKeys(sig.keyID).length > 0);
    if (!owner) {
      unpinned.push(id);
      continue;
    }
    const outcome = outcomes[i];
    if (outcome.status === "rejected") {
      return failure(
        SIGNATURE_INVALID,
        `${what} has a bad signature by pinned key ${owner.getFingerprint().toUpperCase()} (${
          errorText(outcome.reason)
        }); it was altered or corrupted: delete it and its signature and fetch both again`,
      );
    }
    good.push({
      signer: owner.getFingerprint().toUpperCase(),
      signingKey: owner.getKeys(sig.keyID)[0].getFingerprint().toUpperCase(),
    });
  }
  if (good.length > 0) return good[0];
  if (unpinned.length > 0) {
    return failure(
      KEY_UNPINNED,
      `${what} is signed only by key ID ${unpinned.join(", ")}, which is not pinned (pinned ${
        keys.pinned.join(", ")
      }); do not trust it: check the mirror and the fingerprints in iso/catalog.yaml`,
    );
  }
  return failure(
    SIGNATURE_INVALID,
    `${what} carries no signature; fetch it and its signature again`,
  );
}

/**
 * Verifies a detached signature over `data` (the checksum file's exact bytes). `encoding` is what
 * the catalog declares; a signature in the other encoding fails, so a wrong catalog is noticed.
 *
 * @example
 * ```ts
 * const signer = await verifyDetached({
 *   data: await Deno.readFile("SHA256SUMS"),
 *   signature: await Deno.readFile("SHA256SUMS.gpg"),
 *   encoding: "armored",
 *   keys,
 * });
 * ```
 */
export async function verifyDetached(opts: {
  data: Uint8Array;
  signature: Uint8Array;
  encoding: "armored" | "binary";
  keys: PinnedKeys;
  dataName?: string;
  signatureName?: string;
}): Promise<Signer | Failure> {
  const what = opts.dataName
    ? `Checksum file ${JSON.stringify(opts.dataName)}`
    : "The checksum file";
  const sigName = opts.signatureName
    ? `Signature ${JSON.stringify(opts.signatureName)}`
    : "The signature";
  const armored = looksArmored(opts.signature);
  if (armored !== (opts.encoding === "armored")) {
    return failure(
      SIGNATURE_INVALID,
      `${sigName} is ${
        armored ? "armored" : "binary"
      } but iso/catalog.yaml says ${opts.encoding}; ` +
        `fix signature.encoding there, or fetch the signature again`,
    );
  }
  let signature: openpgp.Signature;
  try {
    signature = armored
      ? await openpgp.readSignature({ armoredSignature: decoder.decode(opts.signature) })
      : await openpgp.readSignature({ binarySignature: opts.signature });
  } catch (e) {
    return failure(
      SIGNATURE_INVALID,
      `${sigName} cannot be read (${errorText(e)}); fetch it again`,
    );
  }
  const message = await openpgp.createMessage({ binary: opts.data });
  let sigs: Verifications;
  try {
    ({ signatures: sigs } = await openpgp.verify({
      message,
      signature,
      verificationKeys: [...opts.keys.keys],
    }));
  } catch (e) {
    return failure(
      SIGNATURE_INVALID,
      `${sigName} cannot be checked (${errorText(e)}); fetch it again`,
    );
  }
  return await judge(sigs, opts.keys, what);
}

/**
 * Verifies a clearsigned checksum file and returns the signed text: what `parseChecksums` must
 * read, since anything outside the signed part (before the header, after the signature) is
 * dropped here.
 *
 * @example
 * ```ts
 * const signed = await verifyClearsigned({ text: await Deno.readTextFile("CHECKSUM"), keys });
 * if (!("reason" in signed)) parseChecksums(signed.text, "bsd");
 * ```
 */
export async function verifyClearsigned(opts: {
  text: string;
  keys: PinnedKeys;
  name?: string;
}): Promise<SignedText | Failure> {
  const what = opts.name ? `Checksum file ${JSON.stringify(opts.name)}` : "The checksum file";
  if (!opts.text.includes("-----BEGIN PGP SIGNED MESSAGE-----")) {
    return failure(
      SIGNATURE_INVALID,
      `${what} is not clearsigned; fetch it again, or fix the signature kind in iso/catalog.yaml`,
    );
  }
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: opts.text });
  } catch (e) {
    return failure(
      SIGNATURE_INVALID,
      `${what} is not a valid clearsigned message (${errorText(e)}); fetch it again`,
    );
  }
  let result: Awaited<ReturnType<typeof openpgp.verify>>;
  try {
    result = await openpgp.verify({ message, verificationKeys: [...opts.keys.keys] });
  } catch (e) {
    return failure(
      SIGNATURE_INVALID,
      `${what} cannot be checked (${errorText(e)}); fetch it again`,
    );
  }
  const signer = await judge(result.signatures, opts.keys, what);
  if ("reason" in signer) return signer;
  return { ...signer, text: String(result.data) };
}
