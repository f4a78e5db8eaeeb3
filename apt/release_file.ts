/**
 * The text of `Release` files: the suite's top-level one, which apt trusts through its signature
 * and which lists the size and MD5/SHA-256/SHA-512 of every index file under the suite, and the
 * short per-architecture ones (`main/binary-amd64/Release`) that say which archive, component
 * and architecture an index belongs to.
 *
 * @module
 */

import type { FileHashes } from "./stanza.ts";

/** An index file as the top-level `Release` lists it. */
export interface ReleaseEntry extends FileHashes {
  /** Path relative to `dists/<suite>/`, e.g. `main/binary-amd64/Packages.xz`. */
  readonly path: string;
}

/** The top-level fields of one suite's `Release`. */
export interface ReleaseFields {
  readonly origin: string;
  readonly label: string;
  readonly suite: string;
  readonly codename: string;
  readonly version?: string;
  readonly date: Date;
  readonly validUntil?: Date;
  readonly architectures: readonly string[];
  readonly components: readonly string[];
  readonly description?: string;
}

/**
 * A date as `Release` files write it (RFC 2822 in UTC): `Sat, 02 Mar 2024 10:00:00 UTC`.
 *
 * @example
 * ```ts
 * releaseDate(new Date(0)); // "Thu, 01 Jan 1970 00:00:00 UTC"
 * ```
 */
export function releaseDate(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "UTC");
}

function line(name: string, value: string | undefined): string {
  return value === undefined || value === "" ? "" : `${name}: ${value}\n`;
}

function hashList(
  title: string,
  entries: readonly ReleaseEntry[],
  pick: (e: ReleaseEntry) => string,
): string {
  let out = `${title}:\n`;
  for (const e of entries) out += ` ${pick(e)} ${String(e.size).padStart(16)} ${e.path}\n`;
  return out;
}

/** The top-level `Release` of a suite; `entries` are listed in the order given. */
export function releaseText(f: ReleaseFields, entries: readonly ReleaseEntry[]): string {
  return line("Origin", f.origin) +
    line("Label", f.label) +
    line("Suite", f.suite) +
    line("Version", f.version) +
    line("Codename", f.codename) +
    line("Date", releaseDate(f.date)) +
    line("Valid-Until", f.validUntil && releaseDate(f.validUntil)) +
    "Acquire-By-Hash: yes\n" +
    line("Architectures", f.architectures.join(" ")) +
    line("Components", f.components.join(" ")) +
    line("Description", f.description) +
    hashList("MD5Sum", entries, (e) => e.md5) +
    hashList("SHA256", entries, (e) => e.sha256) +
    hashList("SHA512", entries, (e) => e.sha512);
}

/** The `Release` inside `<component>/binary-<arch>/`. */
export function archReleaseText(
  f: Pick<ReleaseFields, "origin" | "label" | "suite" | "codename" | "version">,
  component: string,
  arch: string,
): string {
  return line("Archive", f.suite) +
    line("Origin", f.origin) +
    line("Label", f.label) +
    line("Version", f.version) +
    line("Codename", f.codename) +
    "Acquire-By-Hash: yes\n" +
    line("Component", component) +
    line("Architecture", arch);
}
