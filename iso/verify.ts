/**
 * The ISO verification step of the OS-image pipeline: is this ISO the one the distro published?
 *
 * It fails closed. The checksum file's signature is checked first, against pinned keys only, and
 * only the signed text is parsed; the ISO must be listed there, under its exact name, and its
 * digest must match. Any doubt is one of four failures, each a one-line message:
 *
 * - `iso-signature-invalid`: the signature does not verify, is missing or cannot be read
 * - `iso-key-unpinned`: no pinned key in the key material, or the signer is not pinned
 * - `iso-checksum-missing`: the checksum file is empty or malformed, or does not list the ISO
 * - `iso-checksum-mismatch`: the ISO's digest differs from the listed one
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { ResolvedDistro } from "./catalog.ts";
import { hashFile } from "../engine/hash.ts";
import {
  CHECKSUM_MISSING,
  type ChecksumAlgorithm,
  type ChecksumFormat,
  findChecksum,
  parseChecksums,
} from "./checksums.ts";
import {
  type KeyMaterial,
  readPinnedKeys,
  SIGNATURE_INVALID,
  type Signer,
  verifyClearsigned,
  verifyDetached,
} from "./signature.ts";

/** The ISO does not match its listed digest. */
export const CHECKSUM_MISMATCH = "iso-checksum-mismatch";

/** How the checksum file is signed, with the signature's bytes when it is detached. */
export type SignatureInput =
  | {
    readonly kind: "detached";
    readonly data: Uint8Array;
    readonly encoding: "armored" | "binary";
    /** File name for messages, e.g. `SHA256SUMS.gpg`. */
    readonly name?: string;
  }
  | { readonly kind: "clearsign" }
  /** Only for distros that publish no signature (the catalog says why); TLS is all there is. */
  | { readonly kind: "none" };

/** What {@link verifyIso} checks. Give `isoPath` (hashed here) or `isoDigest`, not both. */
export interface VerifyIsoInput {
  /** The ISO's file name as the checksum file lists it. */
  readonly isoName: string;
  /** The ISO to hash (streamed, see `engine/hash.ts`). */
  readonly isoPath?: string;
  /** The ISO's digest (hex), when already known: 64 digits for SHA-256, 128 for SHA-512. */
  readonly isoDigest?: string;
  /** Which listed digest to use; default that of `isoDigest`, else SHA-256 when listed. */
  readonly algorithm?: ChecksumAlgorithm;
  /** The checksum file exactly as fetched (clearsigned or not). */
  readonly checksumText: string | Uint8Array;
  /** The checksum file's name for messages, e.g. `SHA256SUMS`. */
  readonly checksumName?: string;
  readonly checksumFormat?: ChecksumFormat;
  readonly signature: SignatureInput;
  /** Key files as fetched; only keys whose fingerprint is in `pinned` are used. */
  readonly keys: readonly KeyMaterial[];
  /** Pinned primary-key fingerprints (full hex). */
  readonly pinned: readonly string[];
}

/** A verified ISO. */
export interface VerifiedIso {
  readonly algorithm: ChecksumAlgorithm;
  /** The ISO's digest (lowercase hex) in `algorithm`, as listed and as computed. */
  readonly digest: string;
  /** The same digest when `algorithm` is SHA-256 (what packer's `iso_checksum` wants). */
  readonly sha256?: string;
  /** Fingerprint of the pinned primary key that signed; `null` for a `none` signature. */
  readonly signer: string | null;
  /** Fingerprint of the (sub)key that made the signature; `null` for a `none` signature. */
  readonly signingKey: string | null;
}

const encoder = new TextEncoder();

function decodeStrict(bytes: Uint8Array, name: string): string | Failure {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return failure(
      CHECKSUM_MISSING,
      `${name} is not UTF-8 text; fetch it again and check its URL in iso/catalog.yaml`,
    );
  }
}

/** Checks the signature and returns the text to trust with its signer. */
async function trustedText(
  input: VerifyIsoInput,
  label: string,
): Promise<{ text: string; signer: Signer | null } | Failure> {
  const bytes = typeof input.checksumText === "string"
    ? encoder.encode(input.checksumText)
    : input.checksumText;
  const sig = input.signature;
  if (sig.kind === "none") {
    const text = decodeStrict(bytes, label);
    return typeof text === "string" ? { text, signer: null } : text;
  }
  const keys = await readPinnedKeys(input.keys, input.pinned);
  if ("reason" in keys) return keys;
  if (sig.kind === "detached") {
    const signer = await verifyDetached({
      data: bytes,
      signature: sig.data,
      encoding: sig.encoding,
      keys,
      dataName: input.checksumName,
      signatureName: sig.name,
    });
    if ("reason" in signer) return signer;
    const text = decodeStrict(bytes, label);
    return typeof text === "string" ? { text, signer } : text;
  }
  const text = decodeStrict(bytes, label);
  if (typeof text !== "string") return text;
  const signed = await verifyClearsigned({ text, keys, name: input.checksumName });
  if ("reason" in signed) return signed;
  return { text: signed.text, signer: { signer: signed.signer, signingKey: signed.signingKey } };
}

/**
 * What a checksum file lists for an ISO, its signature checked: a {@link VerifiedIso} before any
 * file was compared with it.
 */
export type TrustedChecksum = VerifiedIso;

/**
 * The first half of {@link verifyIso}: checks the checksum file's signature against the pins
 * and returns what it lists for `input.isoName`. A pipeline can then fetch the ISO by a digest it
 * already trusts. Fails with `iso-signature-invalid`, `iso-key-unpinned` or
 * `iso-checksum-missing`.
 */
export async function trustedChecksum(
  input: Omit<VerifyIsoInput, "isoPath" | "isoDigest">,
): Promise<TrustedChecksum | Failure> {
  const label = input.checksumName
    ? `Checksum file ${JSON.stringify(input.checksumName)}`
    : "The checksum file";
  const trusted = await trustedText(input, label);
  if ("reason" in trusted) return trusted;

  const entries = parseChecksums(trusted.text, input.checksumFormat ?? "auto", {
    name: input.checksumName,
  });
  if ("reason" in entries) return entries;
  const algorithm = input.algorithm;
  const entry = findChecksum(entries, input.isoName, algorithm);
  if (!entry) {
    const what = algorithm ? `a ${algorithm.toUpperCase()} checksum for` : "";
    return failure(
      CHECKSUM_MISSING,
      `${label} does not list ${what ? `${what} ` : ""}${
        JSON.stringify(input.isoName)
      }; check the ISO file name in iso/catalog.yaml against the checksum file`,
    );
  }
  return {
    algorithm: entry.algorithm,
    digest: entry.digest,
    ...(entry.algorithm === "sha256" ? { sha256: entry.digest } : {}),
    signer: trusted.signer?.signer ?? null,
    signingKey: trusted.signer?.signingKey ?? null,
  };
}

/**
 * Verifies an ISO against its distro's signed checksum file (see the module doc for the order
 * and the four failures). Throws only on a misuse: neither or both of `isoPath` and `isoDigest`.
 *
 * @example
 * ```ts
 * const result = await verifyIso({
 *   isoPath: ".kiln/iso/ubuntu-22.04.5-live-server-amd64.iso",
 *   isoName: "ubuntu-22.04.5-live-server-amd64.iso",
 *   checksumText: await Deno.readFile("SHA256SUMS"),
 *   checksumName: "SHA256SUMS",
 *   signature: { kind: "detached", data: await Deno.readFile("SHA256SUMS.gpg"), encoding: "armored" },
 *   keys: [{ name: "ubuntu-cdimage.asc", data: await Deno.readFile("ubuntu-cdimage.asc") }],
 *   pinned: ["843938DF228D22F7B3742BC0D94AA3F0EFE21092"],
 * });
 * if ("reason" in result) return result; // a Failure
 * ```
 */
export async function verifyIso(input: VerifyIsoInput): Promise<VerifiedIso | Failure> {
  if ((input.isoPath === undefined) === (input.isoDigest === undefined)) {
    throw new Error("verifyIso needs exactly one of isoPath and isoDigest");
  }
  const given = input.isoDigest?.toLowerCase();
  const algorithm = input.algorithm ??
    (given === undefined ? undefined : given.length === 128 ? "sha512" : "sha256");
  if (given !== undefined && !/^[0-9a-f]+$/.test(given)) {
    throw new Error(`verifyIso: isoDigest is not hex: ${JSON.stringify(input.isoDigest)}`);
  }
  const listed = await trustedChecksum({ ...input, algorithm });
  if ("reason" in listed) return listed;
  const actual = given !== undefined
    ? given
    : (await hashFile(input.isoPath!, listed.algorithm)).digest;
  if (actual !== listed.digest) {
    return failure(
      CHECKSUM_MISMATCH,
      `ISO ${JSON.stringify(input.isoName)} does not match its checksum (${listed.algorithm} ${
        actual.slice(0, 16)
      }..., listed ${
        listed.digest.slice(0, 16)
      }...); delete it from the ISO cache and fetch it again`,
    );
  }
  return listed;
}

/** The files fetched for a catalog distro (see {@link verifyDistroIso}). */
export interface FetchedIsoFiles {
  /** The ISO to hash, or its digest when already known. */
  readonly isoPath?: string;
  readonly isoDigest?: string;
  /** The checksum file's bytes, exactly as fetched. */
  readonly checksum: Uint8Array;
  /** The detached signature's bytes; required when the distro's signature is detached. */
  readonly signature?: Uint8Array;
  /** The key material fetched from the distro's key URLs. */
  readonly keys: readonly KeyMaterial[];
}

/**
 * {@link verifyIso} for a resolved catalog entry: the file names, formats, signature kind and pins
 * all come from the catalog, so a pipeline task only passes what it fetched.
 *
 * @example
 * ```ts
 * const distro = resolveDistro(findDistro(loadCatalog(), "fedora"));
 * const result = await verifyDistroIso(distro, {
 *   isoPath: `.kiln/iso/${distro.iso.file}`,
 *   checksum: await Deno.readFile(`.kiln/iso/${distro.checksum.file}`),
 *   keys: [{ name: "fedora.gpg", data: await Deno.readFile(".kiln/iso/fedora.gpg") }],
 * });
 * ```
 */
export async function verifyDistroIso(
  distro: ResolvedDistro,
  files: FetchedIsoFiles,
): Promise<VerifiedIso | Failure> {
  const input = distroInput(distro, files);
  if ("reason" in input) return input;
  return await verifyIso({ ...input, isoPath: files.isoPath, isoDigest: files.isoDigest });
}

/**
 * {@link trustedChecksum} for a resolved catalog entry: what its signed checksum file lists for
 * its ISO, before the ISO is fetched.
 */
export async function trustedDistroChecksum(
  distro: ResolvedDistro,
  files: Omit<FetchedIsoFiles, "isoPath" | "isoDigest">,
): Promise<TrustedChecksum | Failure> {
  const input = distroInput(distro, files);
  if ("reason" in input) return input;
  return await trustedChecksum(input);
}

/** The catalog's names, formats, signature kind and pins around what was fetched. */
function distroInput(
  distro: ResolvedDistro,
  files: Omit<FetchedIsoFiles, "isoPath" | "isoDigest">,
): Omit<VerifyIsoInput, "isoPath" | "isoDigest"> | Failure {
  const sig = distro.signature;
  let signature: SignatureInput;
  if (sig.kind === "detached") {
    const name = sig.urls[0].split("/").pop() ?? "signature";
    if (!files.signature) {
      return failure(
        SIGNATURE_INVALID,
        `Distro ${JSON.stringify(distro.id)} has no signature ${
          JSON.stringify(name)
        } to check; fetch it before verifying`,
      );
    }
    signature = { kind: "detached", data: files.signature, encoding: sig.encoding, name };
  } else signature = { kind: sig.kind };
  return {
    isoName: distro.iso.file,
    algorithm: distro.checksum.algorithm,
    checksumText: files.checksum,
    checksumName: distro.checksum.file,
    checksumFormat: distro.checksum.format,
    signature,
    keys: files.keys,
    pinned: distro.pinned,
  };
}
