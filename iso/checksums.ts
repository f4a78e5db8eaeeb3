/**
 * Checksum files as distros publish them: GNU coreutils (`sha256sum`: `<hex> *<file>` or
 * `<hex>  <file>`) and BSD/tagged (`SHA256 (<file>) = <hex>`, what Fedora, AlmaLinux, Rocky and
 * CentOS publish), with `#` comments and blank lines.
 *
 * The parser is strict on purpose: a line it cannot read is a failure, never skipped, because a
 * checksum file that does not say what we think it says must not let an ISO through. It also
 * refuses text that is still wrapped in an OpenPGP clearsigned message: the only text to trust is
 * the one signature verification returned (see `signature.ts`), never the raw download.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/** The digests an ISO can be checked against; weaker ones (MD5, SHA-1) are refused. */
export type ChecksumAlgorithm = "sha256" | "sha512";

/** How a checksum file is laid out: see the module doc; `auto` reads either, line by line. */
export type ChecksumFormat = "gnu" | "bsd" | "auto";

/** The formats a catalog entry may declare. */
export const CHECKSUM_FORMATS: readonly ChecksumFormat[] = ["gnu", "bsd", "auto"];

/** The algorithms a catalog entry may declare. */
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ["sha256", "sha512"];

/** One file listed in a checksum file. */
export interface ChecksumEntry {
  readonly algorithm: ChecksumAlgorithm;
  /** Lowercase hex. */
  readonly digest: string;
  /** The name as listed, without a leading `./`. */
  readonly fileName: string;
  /** 1-based line in the (signed) text, for messages. */
  readonly line: number;
}

/** The reason of every failure this module returns: the caller cannot find a usable entry. */
export const CHECKSUM_MISSING = "iso-checksum-missing";

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { sha256: 64, sha512: 128 };
const BSD_LINE = /^([A-Za-z0-9]+) ?\((.+)\) ?= ?([0-9A-Fa-f]+)$/;
const GNU_LINE = /^([0-9A-Fa-f]+) ([ *])(.+)$/;
const ARMOR = /^-----BEGIN PGP [A-Z ]+-----$/;

/** Options for {@link parseChecksums}. */
export interface ParseOptions {
  /** Name of the checksum file for messages, e.g. `SHA256SUMS`. */
  readonly name?: string;
}

function quoteLine(line: string): string {
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 57)}...` : line);
}

/** Undoes coreutils' escaping of names holding a backslash or newline (lines starting `\`). */
function unescapeGnuName(name: string): string | null {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    if (name[i] !== "\\") {
      out += name[i];
      continue;
    }
    const next = name[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else return null;
  }
  return out;
}

function parseBsd(line: string): Omit<ChecksumEntry, "line"> | string {
  const m = BSD_LINE.exec(line);
  if (!m) return "is not a BSD checksum line (ALGO (file) = hex)";
  const tag = m[1].toLowerCase();
  if (tag !== "sha256" && tag !== "sha512") {
    return `uses ${m[1]}, which kiln does not trust; publish SHA256 or SHA512 lines`;
  }
  if (m[3].length !== HEX_LENGTH[tag]) {
    return `has a ${m[1]} digest of ${m[3].length} hex digits instead of ${HEX_LENGTH[tag]}`;
  }
  return { algorithm: tag, digest: m[3].toLowerCase(), fileName: m[2] };
}

function parseGnu(line: string): Omit<ChecksumEntry, "line"> | string {
  const escaped = line.startsWith("\\");
  const m = GNU_LINE.exec(escaped ? line.slice(1) : line);
  if (!m) return "is not a GNU checksum line (hex, a space, then * or a space, then the name)";
  const algorithm = m[1].length === 64 ? "sha256" : m[1].length === 128 ? "sha512" : null;
  if (!algorithm) {
    return `has a digest of ${m[1].length} hex digits; expected 64 (SHA-256) or 128 (SHA-512)`;
  }
  const name = escaped ? unescapeGnuName(m[3]) : m[3];
  if (name === null) return "has a badly escaped file name";
  return { algorithm, digest: m[1].toLowerCase(), fileName: name };
}

/**
 * Parses the text of a checksum file. Returns the entries in file order, or a failure
 * (`iso-checksum-missing`) naming the first line it cannot read: an empty file, a line in neither
 * format (or not in the declared one), a weak algorithm, a wrong digest length, the same file
 * listed twice with different digests, or text that is still clearsigned.
 *
 * @example
 * ```ts
 * const entries = parseChecksums("SHA256 (a.iso) = " + "ab".repeat(32) + "\n", "bsd");
 * if (!Array.isArray(entries)) throw new Error(entries.message);
 * findChecksum(entries, "a.iso"); // { algorithm: "sha256", digest: "abab…", fileName: "a.iso", line: 1 }
 * ```
 */
export function parseChecksums(
  text: string,
  format: ChecksumFormat = "auto",
  options: ParseOptions = {},
): ChecksumEntry[] | Failure {
  const name = options.name ? `Checksum file ${JSON.stringify(options.name)}` : "The checksum file";
  const entries: ChecksumEntry[] = [];
  const seen = new Map<string, ChecksumEntry>();
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "");
    const where = `${name} line ${i + 1}`;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    if (ARMOR.test(line.trim())) {
      return failure(
        CHECKSUM_MISSING,
        `${where} is an OpenPGP armor line (${
          quoteLine(line.trim())
        }); pass the text that signature verification returned, not the raw file`,
      );
    }
    let parsed: Omit<ChecksumEntry, "line"> | string;
    if (format === "bsd") parsed = parseBsd(line);
    else if (format === "gnu") parsed = parseGnu(line);
    else if (BSD_LINE.test(line)) parsed = parseBsd(line);
    else if (GNU_LINE.test(line.replace(/^\\/, ""))) parsed = parseGnu(line);
    else parsed = "is neither a GNU (hex  file) nor a BSD (ALGO (file) = hex) checksum line";
    if (typeof parsed === "string") {
      return failure(
        CHECKSUM_MISSING,
        `${where} ${parsed}: ${
          quoteLine(line)
        }; fetch the file again, or fix the checksum format in iso/catalog.yaml`,
      );
    }
    const entry = { ...parsed, fileName: parsed.fileName.replace(/^\.\//, ""), line: i + 1 };
    const key = `${entry.algorithm}\0${entry.fileName}`;
    const before = seen.get(key);
    if (before && before.digest !== entry.digest) {
      return failure(
        CHECKSUM_MISSING,
        `${name} lists ${
          JSON.stringify(entry.fileName)
        } twice with different digests (lines ${before.line} and ${entry.line}); do not trust it, fetch it again`,
      );
    }
    seen.set(key, entry);
    entries.push(entry);
  }
  if (entries.length === 0) {
    return failure(
      CHECKSUM_MISSING,
      `${name} lists no checksums; fetch it again and check its URL in iso/catalog.yaml`,
    );
  }
  return entries;
}

/**
 * The entry for `fileName` (an exact match; a leading `./` in the file is ignored), preferring
 * `algorithm` when given, else SHA-256 over SHA-512. `undefined` when the file is not listed.
 *
 * @example
 * ```ts
 * const entry = findChecksum(entries, "ubuntu-22.04.5-live-server-amd64.iso");
 * ```
 */
export function findChecksum(
  entries: readonly ChecksumEntry[],
  fileName: string,
  algorithm?: ChecksumAlgorithm,
): ChecksumEntry | undefined {
  const name = fileName.replace(/^\.\//, "");
  const listed = entries.filter((e) => e.fileName === name);
  if (algorithm) return listed.find((e) => e.algorithm === algorithm);
  return listed.find((e) => e.algorithm === "sha256") ??
    listed.find((e) => e.algorithm === "sha512");
}
