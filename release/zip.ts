/**
 * A reproducible zip writer, for the Windows release archives Scoop installs: entries sorted,
 * timestamps from SOURCE_DATE_EPOCH, Unix modes kept, no extra fields, so two builds of the same
 * files give the same bytes (as `tar --sort=name --mtime` does for the tar archives). Deflate
 * comes from node:zlib, so no `zip` tool is needed on any OS.
 *
 * @module
 */

import { crc32, deflateRawSync } from "node:zlib";
import { concatBytes } from "../deb/ar.ts";

/** One member: a folder (`path` ends without `/`) or a file with its bytes. */
export type ZipEntry =
  | { readonly type: "dir"; readonly path: string; readonly mode?: number }
  | {
    readonly type: "file";
    readonly path: string;
    readonly mode: number;
    readonly data: Uint8Array;
  };

const encoder = new TextEncoder();
const UTF8_NAMES = 0x0800;
const VERSION = 20; // 2.0: deflate and folders
const MADE_BY_UNIX = (3 << 8) | VERSION;

/** The MS-DOS date and time zip stores (two-second resolution, from 1980), in UTC. */
export function dosDateTime(epochSeconds: number): { date: number; time: number } {
  const d = new Date(Math.max(epochSeconds, 315532800) * 1000); // 1980-01-01
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

/**
 * The zip archive of `entries` with every timestamp at `mtime` (epoch seconds).
 *
 * @example
 * ```ts
 * const bytes = zipBytes([
 *   { type: "dir", path: "kiln-1.0" },
 *   { type: "file", path: "kiln-1.0/kiln.cmd", mode: 0o755, data: new TextEncoder().encode("@echo") },
 * ], 1700000000);
 * ```
 */
export function zipBytes(entries: readonly ZipEntry[], mtime: number): Uint8Array {
  const { date, time } = dosDateTime(mtime);
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of sorted) {
    const name = encoder.encode(e.type === "dir" ? `${e.path}/` : e.path);
    const raw = e.type === "file" ? e.data : new Uint8Array(0);
    const deflated = e.type === "file" ? deflateRawSync(raw, { level: 9 }) : raw;
    const stored = deflated.length >= raw.length;
    const body = stored ? raw : deflated;
    const crc = e.type === "file" ? crc32(raw) >>> 0 : 0;
    const mode = e.type === "dir" ? 0o040000 | (e.mode ?? 0o755) : 0o100000 | e.mode;
    const fields = { method: stored ? 0 : 8, crc, csize: body.length, size: raw.length };

    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, VERSION, true);
    local.setUint16(6, UTF8_NAMES, true);
    local.setUint16(8, fields.method, true);
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, fields.crc, true);
    local.setUint32(18, fields.csize, true);
    local.setUint32(22, fields.size, true);
    local.setUint16(26, name.length, true);
    locals.push(new Uint8Array(local.buffer), name, body);

    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, MADE_BY_UNIX, true);
    central.setUint16(6, VERSION, true);
    central.setUint16(8, UTF8_NAMES, true);
    central.setUint16(10, fields.method, true);
    central.setUint16(12, time, true);
    central.setUint16(14, date, true);
    central.setUint32(16, fields.crc, true);
    central.setUint32(20, fields.csize, true);
    central.setUint32(24, fields.size, true);
    central.setUint16(28, name.length, true);
    central.setUint32(38, ((mode << 16) | (e.type === "dir" ? 0x10 : 0)) >>> 0, true);
    central.setUint32(42, offset, true);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + body.length;
  }
  const cdSize = centrals.reduce((n, p) => n + p.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, sorted.length, true);
  end.setUint16(10, sorted.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  return concatBytes([...locals, ...centrals, new Uint8Array(end.buffer)]);
}
