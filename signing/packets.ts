/**
 * The OpenPGP wire format kiln's own signer needs (RFC 4880, RFC 9580): ASCII armor with its
 * CRC-24, packet headers (old and new format), MPIs and signature subpackets. Just the framing:
 * what the packets mean is `native_key.ts` and `native_sign.ts`.
 *
 * @module
 */

export { concatBytes } from "../engine/bytes.ts";

/** One packet: its tag and body. */
export interface Packet {
  readonly tag: number;
  readonly body: Uint8Array;
}

/** One signature subpacket. */
export interface Subpacket {
  readonly type: number;
  readonly critical: boolean;
  readonly data: Uint8Array;
}

/** Malformed OpenPGP data: a bug-free reader's answer to bad input, caught by the key reader. */
export class PacketError extends Error {}

/** CRC-24 of RFC 4880 section 6.1, as armor's `=XXXX` line carries it. */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (let i = 0; i < data.length; i++) {
    crc ^= data[i] << 16;
    for (let j = 0; j < 8; j++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/**
 * ASCII armor as openpgp.js and GnuPG write it: a blank header, base64 in lines of 60
 * characters, the CRC-24 line (GnuPG needs it when the base64 ends without padding).
 *
 * @example
 * ```ts
 * armor("PGP SIGNATURE", packet); // "-----BEGIN PGP SIGNATURE-----\n\n...\n=AbCd\n-----END ..."
 * ```
 */
export function armor(type: string, bytes: Uint8Array): string {
  const b64 = bytes.toBase64();
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 60) lines.push(b64.slice(i, i + 60));
  const crc = crc24(bytes);
  const sum = new Uint8Array([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toBase64();
  return `-----BEGIN ${type}-----\n\n${lines.join("\n")}\n=${sum}\n-----END ${type}-----\n`;
}

/**
 * The bytes of the first armored block of `type` in `text` (its CRC checked when present);
 * `null` when there is none.
 */
export function dearmor(text: string, type: string): Uint8Array | null {
  const begin = text.indexOf(`-----BEGIN ${type}-----`);
  if (begin < 0) return null;
  const end = text.indexOf(`-----END ${type}-----`, begin);
  if (end < 0) throw new PacketError(`the armored ${type} has no END line`);
  const lines = text.slice(begin, end).split(/\r?\n/).slice(1);
  let i = 0;
  while (i < lines.length && lines[i].trim() !== "") i++; // armor headers (Version:, Comment:)
  let b64 = "";
  let sum: string | null = null;
  for (const raw of lines.slice(i + 1)) {
    const line = raw.trim();
    if (line.startsWith("=") && line.length === 5) sum = line.slice(1);
    else b64 += line;
  }
  let bytes: Uint8Array;
  let crc: Uint8Array | null;
  try { // Uint8Array.fromBase64, not atob: a fortieth of the time, and no binary string
    bytes = Uint8Array.fromBase64(b64);
    crc = sum === null ? null : Uint8Array.fromBase64(sum);
  } catch {
    throw new PacketError(`the armored ${type} is not valid base64`);
  }
  if (crc !== null) {
    if (((crc[0] << 16) | (crc[1] << 8) | crc[2]) !== crc24(bytes)) {
      throw new PacketError(`the armored ${type} fails its CRC-24 check`);
    }
  }
  return bytes;
}

/** Splits `bytes` into packets; throws {@link PacketError} on a malformed header or length. */
export function readPackets(bytes: Uint8Array): Packet[] {
  const out: Packet[] = [];
  let o = 0;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new PacketError("a packet runs past the end of the data");
  };
  while (o < bytes.length) {
    const ctb = bytes[o++];
    if (!(ctb & 0x80)) throw new PacketError(`byte ${o - 1} is not a packet header`);
    let tag: number;
    let len: number;
    if (ctb & 0x40) {
      tag = ctb & 0x3f;
      need(1);
      const a = bytes[o++];
      if (a < 192) len = a;
      else if (a < 224) {
        need(1);
        len = ((a - 192) << 8) + bytes[o++] + 192;
      } else if (a === 255) {
        need(4);
        len = readU32(bytes, o);
        o += 4;
      } else throw new PacketError("partial body lengths are not used in keys");
    } else {
      tag = (ctb >> 2) & 0x0f;
      const kind = ctb & 3;
      if (kind === 3) len = bytes.length - o;
      else {
        const n = 1 << kind;
        need(n);
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + bytes[o++];
      }
    }
    need(len);
    out.push({ tag, body: bytes.subarray(o, o + len) });
    o += len;
  }
  return out;
}

/** Big-endian unsigned 32-bit integer at `o`. */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}

/** `n` as 4 big-endian bytes. */
export function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function lengthBytes(n: number): number[] {
  if (n < 192) return [n];
  if (n < 8384) return [((n - 192) >> 8) + 192, (n - 192) & 0xff];
  return [255, ...u32(n)];
}

/** A new-format packet with the shortest length encoding (as openpgp.js writes them). */
export function writePacket(tag: number, body: Uint8Array): Uint8Array {
  const head = [0xc0 | tag, ...lengthBytes(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** The MPI at `o`: its value bytes (as stored) and the offset after it. */
export function readMpi(b: Uint8Array, o: number): { value: Uint8Array; next: number } {
  if (o + 2 > b.length) throw new PacketError("an MPI runs past the end of its packet");
  const bits = (b[o] << 8) | b[o + 1];
  const n = (bits + 7) >> 3;
  if (o + 2 + n > b.length) throw new PacketError("an MPI runs past the end of its packet");
  return { value: b.subarray(o + 2, o + 2 + n), next: o + 2 + n };
}

/** `value` (big-endian) as an MPI: leading zero bytes dropped, bit count first. */
export function mpi(value: Uint8Array): Uint8Array {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  const v = value.subarray(i);
  const bits = v.length === 0 || v[0] === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(v[0]));
  const out = new Uint8Array(2 + v.length);
  out[0] = bits >> 8;
  out[1] = bits & 0xff;
  out.set(v, 2);
  return out;
}

/** One subpacket with the shortest length encoding. */
export function subpacket(type: number, data: Uint8Array | number[], critical = false): number[] {
  return [...lengthBytes(data.length + 1), critical ? type | 0x80 : type, ...data];
}

/** The subpackets of one subpacket area. */
export function readSubpackets(area: Uint8Array): Subpacket[] {
  const out: Subpacket[] = [];
  let o = 0;
  while (o < area.length) {
    const a = area[o++];
    let len: number;
    if (a < 192) len = a;
    else if (a < 255) len = ((a - 192) << 8) + area[o++] + 192;
    else {
      len = readU32(area, o);
      o += 4;
    }
    if (len < 1 || o + len > area.length) throw new PacketError("a subpacket runs past its area");
    out.push({
      type: area[o] & 0x7f,
      critical: (area[o] & 0x80) !== 0,
      data: area.subarray(o + 1, o + len),
    });
    o += len;
  }
  return out;
}
