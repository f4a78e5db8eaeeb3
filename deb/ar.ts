/**
 * The `ar` container of a `.deb`: a global header, then per member a 60-byte header, its bytes,
 * and a newline when its size is odd. Written by hand so no `ar` or `dpkg-deb` is needed, and
 * deterministic: every member has the same mtime, uid and gid 0 and mode 100644, as
 * `dpkg-deb --build` writes them under SOURCE_DATE_EPOCH.
 *
 * Headers are separate from bodies so a large member (data.tar) can be copied from a file.
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";

/** The global header every ar archive starts with. */
export const AR_MAGIC: Uint8Array = new TextEncoder().encode("!<arch>\n");

/** ar's fields are space-padded ASCII; names longer than 16 bytes would need a GNU/BSD extension. */
function field(value: string, width: number): string {
  if (value.length > width) throw new Error(`ar field ${JSON.stringify(value)} exceeds ${width}`);
  return value.padEnd(width, " ");
}

/**
 * The 60-byte header of a member of `size` bytes. Names are at most 16 bytes (a `.deb` only has
 * `debian-binary`, `control.tar.*` and `data.tar.*`).
 *
 * @example
 * ```ts
 * const header = arMemberHeader("debian-binary", 4, 1700000000);
 * ```
 */
export function arMemberHeader(name: string, size: number, mtime: number): Uint8Array {
  if (!/^[A-Za-z0-9._-]{1,16}$/.test(name)) throw new Error(`bad ar member name ${name}`);
  const text = field(name, 16) + field(String(mtime), 12) + field("0", 6) + field("0", 6) +
    field("100644", 8) + field(String(size), 10) + "`\n";
  return new TextEncoder().encode(text);
}

/** The padding that follows a member of `size` bytes: one newline when the size is odd. */
export function arPadding(size: number): Uint8Array {
  return size % 2 === 1 ? new Uint8Array([0x0a]) : new Uint8Array(0);
}

/** A whole archive of in-memory members, for small archives and tests. */
export function arArchive(
  members: readonly { name: string; data: Uint8Array }[],
  mtime: number,
): Uint8Array {
  const parts: Uint8Array[] = [AR_MAGIC];
  for (const m of members) {
    parts.push(arMemberHeader(m.name, m.data.length, mtime), m.data, arPadding(m.data.length));
  }
  return concatBytes(parts);
}

export { concatBytes };
