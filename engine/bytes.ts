/**
 * Byte arrays joined: the one helper the archive writers, the OpenPGP packets and the APT index
 * builder all need.
 *
 * @module
 */

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
