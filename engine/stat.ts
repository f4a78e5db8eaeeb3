/**
 * File stat signatures for change detection, with nanosecond timestamps.
 *
 * Deno's `Deno.stat` and `node:fs` report mtime in milliseconds and ctime in seconds here, which
 * is too coarse to key a digest cache on. On Linux we call `statx(2)` through FFI (about 2 µs a
 * call) and get the kernel's nanosecond times; elsewhere we fall back to `Deno.lstatSync`.
 *
 * @module
 */

import { loadLibc } from "./libc.ts";

/** What the digest cache keys on: size, mtime (ns), inode and ctime (ns). */
export interface FileStat {
  readonly kind: "file" | "dir" | "symlink" | "other";
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: number;
  readonly mode: number;
  /** `size:mtime:ino:ctime`, compared as a whole. */
  readonly sig: string;
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;
const S_IFMT = 0o170000;

const buf = new Uint8Array(256);
const view = new DataView(buf.buffer);
const encoder = new TextEncoder();
let pathBuf = new Uint8Array(4096);

function kindOf(mode: number): FileStat["kind"] {
  const t = mode & S_IFMT;
  return t === 0o100000 ? "file" : t === 0o040000 ? "dir" : t === 0o120000 ? "symlink" : "other";
}

function u64(off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 0x1_0000_0000;
}

/** Decimal nanoseconds of a `statx_timestamp` at `off`, built without BigInt arithmetic. */
function nsText(off: number): string {
  const sec = u64(off);
  const nsec = view.getUint32(off + 8, true);
  return sec === 0 ? String(nsec) : `${sec}${String(nsec).padStart(9, "0")}`;
}

/**
 * A stat result. Timestamps are kept as decimal text and turned into `bigint` only when asked
 * for: a no-op build compares millions of signatures and needs none of the arithmetic.
 */
class Stat implements FileStat {
  readonly kind: FileStat["kind"];
  readonly mode: number;
  readonly sig: string;
  constructor(
    mode: number,
    readonly size: number,
    readonly mtimeText: string,
    readonly ino: number,
    readonly ctimeText: string,
  ) {
    this.kind = kindOf(mode);
    this.mode = mode & 0o7777;
    this.sig = `${size}:${mtimeText}:${ino}:${ctimeText}`;
  }
  get mtimeNs(): bigint {
    return BigInt(this.mtimeText);
  }
  get ctimeNs(): bigint {
    return BigInt(this.ctimeText);
  }
}

/**
 * Stats `path` without following a final symlink; `null` when it does not exist.
 *
 * @example
 * ```ts
 * const st = statFile("README.md");
 * if (st?.kind === "file") console.log(st.size, st.mtimeNs);
 * ```
 */
export function statFile(path: string): FileStat | null {
  const l = loadLibc();
  if (l) {
    // Encode into a reused buffer: allocating one per call showed up in no-op profiles.
    if (path.length * 3 + 1 > pathBuf.length) pathBuf = new Uint8Array(path.length * 3 + 1);
    const { written } = encoder.encodeInto(path, pathBuf);
    pathBuf[written] = 0;
    const rc = l.statx(
      AT_FDCWD,
      pathBuf,
      AT_SYMLINK_NOFOLLOW,
      STATX_BASIC_STATS,
      buf,
    );
    if (rc !== 0) return null;
    // struct statx: mode u16 @28, ino u64 @32, size u64 @40, ctime @96, mtime @112
    return new Stat(view.getUint16(28, true), u64(40), nsText(112), u64(32), nsText(96));
  }
  try {
    const s = Deno.lstatSync(path);
    const toNs = (d: Date | null) => String(BigInt(d?.getTime() ?? 0) * 1_000_000n);
    const mode = s.mode ?? (s.isFile ? 0o100644 : s.isDirectory ? 0o040755 : 0o120777);
    return new Stat(mode, s.size, toNs(s.mtime), s.ino ?? 0, toNs(s.ctime));
  } catch {
    return null;
  }
}

/** True when timestamps come from `statx` (nanoseconds) rather than the millisecond fallback. */
export function hasNanosecondStat(): boolean {
  return loadLibc() !== null;
}
