/**
 * Byte arrays joined and compared: helpers the archive writers, the OpenPGP packets and the APT
 * index builder all need.
 *
 * @module
 */

import { loadLibc } from "./libc.ts";

/**
 * `parts` concatenated into one new array (plain number arrays are bytes too).
 *
 * @example
 * ```ts
 * concatBytes([header, [0x04, 0xff], body]);
 * ```
 */
export function concatBytes(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Whether `a` and `b` hold the same bytes: libc's `memcmp` where it loads (an index file of
 * hundreds of KiB compares in microseconds, without Node's `Buffer`), else a loop.
 *
 * @example
 * ```ts
 * sameBytes(Deno.readFileSync("Release"), new TextEncoder().encode(release));
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  const libc = loadLibc();
  if (libc) return libc.memcmp(a, b, a.length) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
