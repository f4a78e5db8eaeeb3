/**
 * `SHA256SUMS` and `SHA512SUMS` in GNU format (`<hex>  <name>`, sorted bytewise, LF), each with a
 * detached ASCII-armored OpenPGP signature (`SHA256SUMS.asc`, `SHA512SUMS.asc`), so users can run
 * `gpgv SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS`. A signature file is never listed in
 * what it signs, and the sums files never list themselves.
 *
 * @module
 */

import { type Failure } from "../engine/failure.ts";
import type { SigningKey } from "../signing/key.ts";
import { signDetached } from "../signing/sign.ts";
import {
  checkReleaseName,
  compareBytes,
  digestReleaseFiles,
  type ReleaseFileDigest,
} from "./digest.ts";
import { writeFilesAtomic } from "./write.ts";

/** The checksum files kiln writes, and the signature beside each. */
export const SUMS_FILES = {
  sha256: "SHA256SUMS",
  sha512: "SHA512SUMS",
} as const;

/** The suffix of each sums file's detached signature. */
export const SIGNATURE_SUFFIX = ".asc";

const SIGNATURE_EXTENSIONS = [".asc", ".sig", ".gpg", ".sign"];
const SUMS_NAMES = new Set<string>(
  Object.values(SUMS_FILES).flatMap((n) => [n, `${n}${SIGNATURE_SUFFIX}`]),
);

/**
 * True when `name` must not be listed: a sums file, or a signature (`.asc`, `.sig`, `.gpg`,
 * `.sign`). A `.asc`/`.gpg` file whose first bytes (`head`) show an OpenPGP key rather than a
 * signature, e.g. a shipped `archive-keyring.gpg`, is an artifact and is listed.
 */
export function isUnlistedFile(name: string, head?: Uint8Array): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (SUMS_NAMES.has(base)) return true;
  const ext = SIGNATURE_EXTENSIONS.find((e) => base.endsWith(e));
  if (ext === undefined) return false;
  if (ext === ".sig" || ext === ".sign" || head === undefined) return true;
  return !isOpenPgpKey(head);
}

/** {@link isUnlistedFile} for `dir/name`, reading its first bytes when the name is ambiguous. */
export async function isUnlistedInFolder(dir: string, name: string): Promise<boolean> {
  if (!isUnlistedFile(name)) return false;
  return isUnlistedFile(name, await head(`${dir}/${name}`));
}

/** True when `head` starts an armored or binary OpenPGP key (public or secret). */
function isOpenPgpKey(head: Uint8Array): boolean {
  const text = new TextDecoder().decode(head.subarray(0, 64));
  if (text.startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----")) return true;
  if (text.startsWith("-----BEGIN PGP ")) return false;
  if (head.length === 0 || (head[0] & 0x80) === 0) return false;
  const tag = head[0] & 0x40 ? head[0] & 0x3f : (head[0] >> 2) & 0x0f;
  return tag === 6; // public-key packet (tag 2 is a signature)
}

/**
 * The GNU-format sums text for `files` with `algorithm`, sorted bytewise by name. The names are
 * assumed checked (`checkReleaseName`).
 */
export function sumsText(
  files: readonly ReleaseFileDigest[],
  algorithm: keyof typeof SUMS_FILES,
): string {
  return [...files].sort((a, b) => compareBytes(a.name, b.name))
    .map((f) => `${f[algorithm]}  ${f.name}\n`).join("");
}

/**
 * The contents of `SHA256SUMS`, `SHA512SUMS` and their signatures for `listed` (file name ->
 * text), for a caller that writes them with other files in one batch.
 */
export async function signedSums(
  listed: readonly ReleaseFileDigest[],
  key: SigningKey,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const alg of ["sha256", "sha512"] as const) {
    const text = sumsText(listed, alg);
    out[SUMS_FILES[alg]] = text;
    out[`${SUMS_FILES[alg]}${SIGNATURE_SUFFIX}`] = await signDetached(key, text);
  }
  return out;
}

/** What {@link writeChecksums} wrote. */
export interface ChecksumsResult {
  /** The files listed, sorted as in the sums files. */
  readonly listed: readonly ReleaseFileDigest[];
  /** Names given but left out: signatures and sums files. */
  readonly skipped: readonly string[];
  /** The four files written, relative to the folder. */
  readonly written: readonly string[];
}

/**
 * Writes `SHA256SUMS`, `SHA512SUMS` and their `.asc` signatures into `dir`, listing `files`
 * (names relative to `dir`, or digests already computed for them) minus signature and sums files.
 * Everything is signed before anything is written, and each file is replaced atomically.
 *
 * @example
 * ```ts
 * const r = await writeChecksums("dist", ["kiln.iso", "kiln_0.1.0_amd64.deb"], key);
 * if ("reason" in r) console.error(r.message);
 * ```
 */
export async function writeChecksums(
  dir: string,
  files: readonly (string | ReleaseFileDigest)[],
  key: SigningKey,
): Promise<ChecksumsResult | Failure> {
  const skipped: string[] = [];
  const known: ReleaseFileDigest[] = [];
  const toDigest: string[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const name = typeof f === "string" ? f : f.name;
    const invalid = checkReleaseName(name);
    if (invalid) return invalid;
    if (seen.has(name)) continue;
    seen.add(name);
    if (await isUnlistedInFolder(dir, name)) skipped.push(name);
    else if (typeof f === "string") toDigest.push(f);
    else known.push(f);
  }
  const digested = await digestReleaseFiles(dir, toDigest);
  if ("reason" in digested) return digested;
  const listed = [...known, ...digested].sort((a, b) => compareBytes(a.name, b.name));
  const out = await signedSums(listed, key);
  await writeFilesAtomic(dir, out);
  return { listed, skipped, written: Object.keys(out) };
}

/** The first 64 bytes of `path`, or undefined when it cannot be read. */
async function head(path: string): Promise<Uint8Array | undefined> {
  try {
    using f = await Deno.open(path, { read: true });
    const buf = new Uint8Array(64);
    const n = await f.read(buf);
    return buf.subarray(0, n ?? 0);
  } catch {
    return undefined;
  }
}
