/**
 * `Packages` stanzas: a package's control fields plus where its file is and the file's hashes,
 * in the field order apt-ftparchive writes (apt's `tagfile-order.c`), so kiln's indexes read like
 * any Debian archive's and a given package always renders to the same bytes.
 *
 * @module
 */

import type { Stanza } from "../deb/inspect.ts";

/** A pool file's size and hashes (hex), as its `Packages` stanza lists them. */
export interface FileHashes {
  readonly size: number;
  readonly md5: string;
  readonly sha256: string;
  readonly sha512: string;
}

/** apt's canonical field order for binary package stanzas; other fields follow in file order. */
const ORDER = [
  "Package",
  "Package-Type",
  "Architecture",
  "Subarchitecture",
  "Version",
  "Kernel-Version",
  "Built-Using",
  "Static-Built-Using",
  "Built-For-Profiles",
  "Auto-Built-Package",
  "Multi-Arch",
  "Status",
  "Priority",
  "Essential",
  "Installer-Menu-Item",
  "Section",
  "Source",
  "Origin",
  "Maintainer",
  "Original-Maintainer",
  "Bugs",
  "Config-Version",
  "Conffiles",
  "Triggers-Awaited",
  "Triggers-Pending",
  "Installed-Size",
  "Provides",
  "Pre-Depends",
  "Depends",
  "Recommends",
  "Suggests",
  "Conflicts",
  "Breaks",
  "Replaces",
  "Enhances",
  "Filename",
  "Size",
  "MD5sum",
  "SHA1",
  "SHA256",
  "SHA512",
  "Homepage",
  "Description",
  "Tag",
  "Task",
];
const RANK = new Map(ORDER.map((f, i) => [f.toLowerCase(), i]));

/** Fields the archive sets; a `.deb`'s own copies (there should be none) are dropped. */
const ARCHIVE_FIELDS = new Set(["filename", "size", "md5sum", "sha1", "sha256", "sha512"]);

/** One `Field: value` line (plus continuation lines), newline-terminated. */
function fieldLine(name: string, value: string): string {
  return value.startsWith("\n") ? `${name}:${value}\n` : `${name}: ${value}\n`;
}

/**
 * Renders a package's `Packages` stanza (without the blank line that separates stanzas).
 *
 * @example
 * ```ts
 * packageStanza([["Package", "hello"], ["Version", "1.0"]], "pool/main/h/hello/hello_1.0_all.deb",
 *   { size: 1234, md5: "…", sha256: "…", sha512: "…" });
 * ```
 */
export function packageStanza(control: Stanza, filename: string, file: FileHashes): string {
  const fields: (readonly [string, string])[] = control.filter(([k]) =>
    !ARCHIVE_FIELDS.has(k.toLowerCase())
  );
  fields.push(
    ["Filename", filename],
    ["Size", String(file.size)],
    ["MD5sum", file.md5],
    ["SHA256", file.sha256],
    ["SHA512", file.sha512],
  );
  const ranked = fields.map((f, i) => ({ f, r: RANK.get(f[0].toLowerCase()) ?? ORDER.length, i }));
  ranked.sort((a, b) => a.r - b.r || a.i - b.i);
  let out = "";
  for (const { f } of ranked) out += fieldLine(f[0], f[1]);
  return out;
}
