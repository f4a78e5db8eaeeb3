/**
 * A tar writer for `.deb` members, in GNU format as `dpkg-deb --build` writes it: dpkg's own
 * extractor knows ustar and GNU long names (`L`/`K` records) but rejects PAX headers, so names
 * over 100 bytes get a GNU `././@LongLink` record rather than a PAX one.
 *
 * Deterministic by construction: entries sorted by name (bytes), every owner root:root with
 * uid/gid 0, every mtime the one given (SOURCE_DATE_EPOCH), modes as given (no umask). Parent
 * folders are the caller's to list (see `layout.ts`); names are written `./usr/bin/tool` and
 * `./usr/bin/` as dpkg-deb does.
 *
 * @module
 */

import { concatBytes } from "./ar.ts";

const BLOCK = 512;
const encoder = new TextEncoder();

/** One member of a tar archive; `path` is relative (`usr/bin/tool`), `""` is the root folder. */
export type TarEntry =
  | { readonly type: "dir"; readonly path: string; readonly mode: number }
  | { readonly type: "symlink"; readonly path: string; readonly target: string }
  | {
    readonly type: "file";
    readonly path: string;
    readonly mode: number;
    readonly size: number;
    /** The bytes, or a function streaming exactly `size` bytes (a file of the build). */
    readonly content: Uint8Array | (() => AsyncIterable<Uint8Array>);
  };

/** Thrown when streamed content does not have the size announced (the file changed meanwhile). */
export class TarSizeMismatch extends Error {
  constructor(readonly path: string, readonly expected: number, readonly actual: number) {
    super(`${path}: expected ${expected} bytes, read ${actual}`);
    this.name = "TarSizeMismatch";
  }
}

/** The name an entry has in the archive: `./`, `./usr/`, `./usr/bin/tool`. */
export function archiveName(entry: TarEntry): string {
  if (entry.path === "") return "./";
  return `./${entry.path}${entry.type === "dir" ? "/" : ""}`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Writes `value` as a NUL-terminated octal number, or base-256 when it does not fit. */
function putNumber(h: Uint8Array, offset: number, width: number, value: number): void {
  const octal = value.toString(8);
  if (octal.length <= width - 1) {
    h.set(encoder.encode(octal.padStart(width - 1, "0")), offset);
    return;
  }
  // GNU base-256: first byte 0x80, then the value big-endian.
  h[offset] = 0x80;
  let v = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function putString(h: Uint8Array, offset: number, width: number, value: Uint8Array): void {
  h.set(value.subarray(0, width), offset);
}

/** One 512-byte GNU header. */
function header(
  name: Uint8Array,
  type: string,
  mode: number,
  size: number,
  mtime: number,
  link: Uint8Array,
): Uint8Array {
  const h = new Uint8Array(BLOCK);
  putString(h, 0, 100, name);
  putNumber(h, 100, 8, mode);
  putNumber(h, 108, 8, 0);
  putNumber(h, 116, 8, 0);
  putNumber(h, 124, 12, size);
  putNumber(h, 136, 12, mtime);
  h[156] = type.charCodeAt(0);
  putString(h, 157, 100, link);
  h.set(encoder.encode("ustar  \0"), 257);
  putString(h, 265, 32, encoder.encode("root"));
  putString(h, 297, 32, encoder.encode("root"));
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** A GNU long-name (`L`) or long-link (`K`) record holding `value` and a NUL. */
function longRecord(type: "L" | "K", value: Uint8Array, mtime: number): Uint8Array[] {
  const body = concatBytes([value, new Uint8Array(1)]);
  const name = encoder.encode("././@LongLink");
  return [
    header(name, type, 0o644, body.length, mtime, new Uint8Array()),
    body,
    padding(body.length),
  ];
}

/** The header blocks of `entry` (with any long-name records before them). */
function headerBlocks(entry: TarEntry, mtime: number): Uint8Array[] {
  const name = encoder.encode(archiveName(entry));
  const link = entry.type === "symlink" ? encoder.encode(entry.target) : new Uint8Array();
  const blocks: Uint8Array[] = [];
  if (link.length > 100) blocks.push(...longRecord("K", link, mtime));
  if (name.length > 100) blocks.push(...longRecord("L", name, mtime));
  const [type, mode, size] = entry.type === "dir"
    ? ["5", entry.mode, 0]
    : entry.type === "symlink"
    ? ["2", 0o777, 0]
    : ["0", entry.mode, entry.size];
  blocks.push(header(name, type, mode, size, mtime, link));
  return blocks;
}

/** `entries` sorted as they go into the archive; throws on a duplicate name (a caller's bug). */
export function sortEntries<T extends TarEntry>(entries: readonly T[]): T[] {
  const keyed = entries.map((e) => ({ e, key: encoder.encode(archiveName(e)) }));
  keyed.sort((a, b) => compareBytes(a.key, b.key));
  for (let i = 1; i < keyed.length; i++) {
    if (compareBytes(keyed[i - 1].key, keyed[i].key) === 0) {
      throw new Error(`duplicate tar entry ${archiveName(keyed[i].e)}`);
    }
  }
  return keyed.map((k) => k.e);
}

/**
 * Streams the archive of `entries` (sorted here) with every mtime set to `mtime`. File content
 * is read as it is written, so a large package never sits whole in memory. Throws
 * {@link TarSizeMismatch} when a file's content is not the size announced.
 *
 * @example
 * ```ts
 * for await (const chunk of tarStream([{ type: "dir", path: "", mode: 0o755 }], 1700000000)) {
 *   await out.write(chunk);
 * }
 * ```
 */
export async function* tarStream(
  entries: readonly TarEntry[],
  mtime: number,
): AsyncGenerator<Uint8Array> {
  for (const entry of sortEntries(entries)) {
    yield concatBytes(headerBlocks(entry, mtime));
    if (entry.type !== "file") continue;
    if (entry.content instanceof Uint8Array) {
      if (entry.content.length !== entry.size) {
        throw new TarSizeMismatch(entry.path, entry.size, entry.content.length);
      }
      yield entry.content;
    } else {
      let read = 0;
      for await (const chunk of entry.content()) {
        read += chunk.length;
        if (read > entry.size) throw new TarSizeMismatch(entry.path, entry.size, read);
        yield chunk;
      }
      if (read !== entry.size) throw new TarSizeMismatch(entry.path, entry.size, read);
    }
    const pad = padding(entry.size);
    if (pad.length > 0) yield pad;
  }
  yield new Uint8Array(BLOCK * 2);
}

/** The whole archive in memory, for small archives such as control.tar. */
export async function tarBytes(entries: readonly TarEntry[], mtime: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(entries, mtime)) parts.push(chunk);
  return concatBytes(parts);
}
