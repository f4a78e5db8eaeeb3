/**
 * Small outputs travel inside their action entry instead of as blobs, as REAPI's
 * `OutputFile.contents` does. On this class of machine creating a file costs 0.1-0.5 ms, and a
 * blob per small output doubled the files a cold build creates; inlining also saves a read per
 * file on restore. The content is verified against its digest before it is written.
 *
 * @module
 */

import { sha256Small } from "./sha256_small.ts";

/** Outputs up to this size are inlined (base64 in the entry's JSON). */
export const INLINE_MAX = 4096;

/** Base64 of `bytes`. */
export function encodeInline(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The bytes of inline content if they match `digest` and `size`; `null` when corrupt. */
export function decodeInline(text: string, digest: string, size: number): Uint8Array | null {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.length === size && sha256Small(bytes) === digest ? bytes : null;
}
