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
 * @module
 */

import * as openpgp from "openpgp";
import { type Failure, failure } from "../engine/failure.ts";

/** The signature does not verify, is missing or cannot be read. */
export const SIGNATURE_INVALID = "iso-signature-invalid";
/** No pinned key is available, or the signer is not pinned. */
export const KEY_UNPINNED = "iso-key-unpinned";

/** A key file as fetched (armored text, or binary packets), with a name for messages. */
export interface KeyMaterial {
  readonly name: string;
  readonly data: Uint8Array | string;
}

/** The pinned public keys found in some key material: the only keys a signature may come from. */
export interface PinnedKeys {
  readonly keys: readonly openpgp.PublicKey[];
  /** The pinned fingerprints (uppercase hex), for messages. */
  readonly pinned: readonly string[];
}

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

const FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;
const KEY_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;
const decoder = new TextDecoder();

/**
 * `fpr` in the canonical form pins are compared in: uppercase hex, spaces removed. Throws on
 * anything but a full v4 (40 hex) or v6 (64 hex) fingerprint: a short key ID is not a pin.
 */
export function normalizeFingerprint(fpr: string): string {
  const out = fpr.replace(/\s+/g, "").toUpperCase();
  if (!FINGERPRINT.test(out)) {
    throw new Error(`not a full OpenPGP fingerprint: ${JSON.stringify(fpr)}`);
  }
  return out;
}

function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0].replace(/[.:]\s*$/, "");
}

function looksArmored(data: Uint8Array | string): boolean {
  const head = typeof data === "string" ? data.slice(0, 200) : decoder.decode(data.slice(0, 200));
  return head.trimStart().startsWith("-----BEGIN PGP ");
}

async function readMaterial(m: KeyMaterial): Promise<openpgp.PublicKey[] | Failure> {
  try {
    let keys: openpgp.Key[];
    if (looksArmored(m.data)) {
      const text = typeof m.data === "string" ? m.data : decoder.decode(m.data);
      const blocks = text.match(KEY_BLOCK) ?? [];
      if (blocks.length === 0) throw new Error("no PUBLIC KEY BLOCK in the armored text");
      keys = [];
      for (const block of blocks) keys.push(...await openpgp.readKeys({ armoredKeys: block }));
    } else {
      if (typeof m.data === "string") throw new Error("text that is not armored");
      keys = await openpgp.readKeys({ binaryKeys: m.data });
    }
    return keys.map((k) => k.isPrivate() ? k.toPublic() : k as openpgp.PublicKey);
  } catch (e) {
    return failure(
      KEY_UNPINNED,
      `Key file ${JSON.stringify(m.name)} is not OpenPGP key material (${
        errorText(e)
      }); fetch it again or fix its URL in iso/catalog.yaml`,
    );
  }
}

/**
 * Reads every key in `material` and keeps those whose primary fingerprint is in `pinned`.
 * Fails with `iso-key-unpinned` when a file cannot be read, or no pinned key is among them.
 *
 * @example
 * ```ts
 * const keys = await readPinnedKeys(
 *   [{ name: "RPM-GPG-KEY-AlmaLinux-9", data: await Deno.readFile("RPM-GPG-KEY-AlmaLinux-9") }],
 *   ["BF18AC2876178908D6E71267D36CB86CB86B3716"],
 * );
 * ```
 */
export async function readPinnedKeys(
  material: readonly KeyMaterial[],
  pinned: readonly string[],
): Promise<PinnedKeys | Failure> {
  const pins = [...new Set(pinned.map(normalizeFingerprint))];
  if (pins.length === 0) {
    return failure(
      KEY_UNPINNED,
      "No signing-key fingerprint is pinned, so no signature can be trusted; " +
        "add the distro's fingerprints to keys.fingerprints in iso/catalog.yaml",
    );
  }
  const found = new Map<string, openpgp.PublicKey>();
  for (const m of material) {
    const keys = await readMaterial(m);
    if ("reason" in keys) return keys;
    for (const k of keys) {
      const fpr = k.getFingerprint().toUpperCase();
      if (!found.has(fpr)) found.set(fpr, k);
    }
  }
  const keys = pins.flatMap((p) => found.has(p) ? [found.get(p)!] : []);
  if (keys.length === 0) {
    const names = material.map((m) => JSON.stringify(m.name)).join(", ") || "no key files";
    const seen = [...found.keys()].join(", ") || "none";
    return failure(
      KEY_UNPINNED,
      `No pinned key in ${names} (found ${seen}; pinned ${
        pins.join(", ")
      }); check the key URLs and fingerprints in iso/catalog.yaml`,
    );
  }
  return { keys, pinned: pins };
}

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
