/**
 * The few libc calls Deno does not expose, through FFI: `statx` (nanosecond timestamps),
 * `syncfs` (one flush for a batch of cache writes) and `flock` without blocking (to say "waiting
 * for another kiln" instead of hanging silently), and `memcmp` (comparing large byte arrays
 * without loading Node's `Buffer`). `null` where FFI or libc is unavailable
 * (macOS, or no `--allow-ffi`); callers fall back to plain Deno APIs.
 *
 * @module
 */

import { openLibrary } from "./ffi_load.ts";

/** The libc symbols kiln uses. */
export interface Libc {
  statx(dirfd: number, path: Uint8Array, flags: number, mask: number, buf: Uint8Array): number;
  syncfs(fd: number): Promise<number>;
  open(path: Uint8Array, flags: number, mode: number): number;
  close(fd: number): number;
  flock(fd: number, op: number): number;
  flockWait(fd: number, op: number): Promise<number>;
  memcmp(a: Uint8Array, b: Uint8Array, n: number): number;
}

let libc: Libc | null | undefined;

/** The loaded libc, or `null` when FFI is unavailable. */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = openLibrary(["libc.so.6", "libc.so"], {
    statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
    syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
    open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    flock: { parameters: ["i32", "i32"], result: "i32" },
    flockWait: { name: "flock", parameters: ["i32", "i32"], result: "i32", nonblocking: true },
    memcmp: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  }) as unknown as Libc | null;
  return libc;
}

/** NUL-terminated UTF-8 bytes of `s`, for path arguments. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}
