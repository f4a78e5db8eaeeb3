/**
 * Reads a `.deb`'s control stanza without dpkg: the `ar` archive, its `control.tar.{gz,xz,zst}`
 * member (or an uncompressed `control.tar`), and `./control` inside it. APT indexing calls this
 * for every package, so it works on bytes already in memory (the indexer reads each file once, to
 * hash it too) and decompresses in-process: gzip through `node:zlib`, zstd through `fzstd`, xz
 * through xz-embedded compiled to WebAssembly (`xz-decompress`, driven synchronously). Many xz
 * members at once (dpkg-deb's default compression) go to one `xz` process instead, which decodes
 * them beside this thread for less than decoding them here (see {@link ControlReader}).
 *
 * Also the deb822 parser (`Field: value` stanzas separated by blank lines) that APT's `Packages`
 * and `Release` files share with `control`.
 *
 * @module
 */

import { gunzip } from "../engine/libz.ts";
import { XzBatch, xzBatchSize, xzDecode } from "./xz_decode.ts";
import { loadLiblzma } from "../engine/liblzma.ts";
import { type Failure, failure } from "../engine/failure.ts";

/** The bytes are not a `.deb` dpkg would read: bad `ar` magic, no control member, no `control`. */
export const DEB_INVALID = "deb-invalid";

/** One stanza: fields in file order, values as written after `Name:` (continuation lines kept). */
export type Stanza = readonly (readonly [name: string, value: string])[];

/** What {@link inspectDebBytes} found. */
export interface DebControl {
  /** The control stanza's fields, in the order `control` lists them. */
  readonly fields: Stanza;
  /** How the control member was compressed. */
  readonly controlCompression: "gz" | "xz" | "zst" | "none";
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/**
 * Parses deb822 text into stanzas. A continuation line (starting with a space or tab) belongs to
 * the field above it and is kept with its leading whitespace, so `Description` round-trips.
 * Lines starting with `#` are comments (as in `control`); a line without a colon is an error.
 *
 * @example
 * ```ts
 * const [s] = parseDeb822("Package: hello\nVersion: 1.0\n") as Stanza[];
 * s[0]; // ["Package", "hello"]
 * ```
 */
export function parseDeb822(text: string): Stanza[] | Failure {
  const stanzas: Stanza[] = [];
  let cur: [string, string][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") {
      if (cur.length) stanzas.push(cur);
      cur = [];
      continue;
    }
    if (line[0] === "#") continue;
    if (line[0] === " " || line[0] === "\t") {
      const last = cur[cur.length - 1];
      if (!last) return failure(DEB_INVALID, `Line ${i + 1} continues no field: ${q(line)}`);
      last[1] += "\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) return failure(DEB_INVALID, `Line ${i + 1} is not "Field: value": ${q(line)}`);
    cur.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  if (cur.length) stanzas.push(cur);
  return stanzas;
}

/** The value of field `name` (case-insensitive, as dpkg compares field names), if present. */
export function fieldValue(stanza: Stanza, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of stanza) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A `.deb`'s control member, still compressed: enough to read its control stanza later. */
export interface ControlMember {
  /** Which file it came from, for messages. */
  readonly name: string;
  readonly kind: DebControl["controlCompression"];
  readonly data: Uint8Array;
}

/**
 * Reads the control stanza of the `.deb` in `bytes`. `name` says which file it is, for messages.
 * The buffer must hold the archive at least up to the end of its control member (the data member
 * may be cut off: see {@link inspectDeb}, which reads only that much of a large file).
 *
 * @example
 * ```ts
 * const c = await inspectDebBytes(Deno.readFileSync("hello_1.0_amd64.deb"), "hello_1.0_amd64.deb");
 * if (!("reason" in c)) console.log(fieldValue(c.fields, "Package"));
 * ```
 */
export async function inspectDebBytes(
  bytes: Uint8Array,
  name: string,
): Promise<DebControl | Failure> {
  const member = controlMember(bytes, name);
  return "reason" in member ? member : (await readControlMembers([member]))[0];
}

/**
 * Reads the control stanzas of many control members (see {@link controlMember}) at once; see
 * {@link ControlReader}.
 */
export async function readControlMembers(
  members: readonly ControlMember[],
  opts: { xzTool?: string; tmpDir?: string } = {},
): Promise<(DebControl | Failure)[]> {
  const reader = new ControlReader(opts);
  for (const m of members) reader.add(m);
  return await reader.finish();
}

/**
 * Reads the control stanzas of control members handed to it one by one, for callers that read
 * many packages: the xz ones (dpkg-deb's default) are decoded in batches beside this thread, by
 * liblzma or an `xz` process (see `xz_decode.ts`). Members a batch cannot decode, and a few
 * members without liblzma, are decoded one by one. Results come in the order members were added.
 */
export class ControlReader {
  readonly #members: ControlMember[] = [];
  readonly #batches: XzBatch[] = [];
  readonly #opts: { xzTool?: string; tmpDir?: string };

  /** `tmpDir` holds xz's files while it runs (default: a new system temp folder). */
  constructor(opts: { xzTool?: string; tmpDir?: string } = {}) {
    this.#opts = opts;
  }

  add(m: ControlMember): void {
    this.#members.push(m);
    if (m.kind !== "xz") return;
    let batch = this.#batches.at(-1);
    if (!batch || batch.size >= xzBatchSize()) {
      batch?.start(); // full: decode it while the caller reads on
      batch = new XzBatch(this.#opts.xzTool ?? "xz", this.#opts.tmpDir);
      this.#batches.push(batch);
    }
    batch.add(m);
  }

  /** The control stanzas, in the order added. */
  async finish(): Promise<(DebControl | Failure)[]> {
    const few = this.#batches.length === 1 && this.#batches[0].size < 8 && !loadLiblzma();
    const decoded = new Map<ControlMember, Uint8Array>();
    if (!few) {
      for (const m of await Promise.all(this.#batches.map((b) => b.start()))) {
        for (const [k, v] of m) decoded.set(k, v);
      }
    }
    const out: (DebControl | Failure)[] = [];
    for (const m of this.#members) {
      let tar: Uint8Array;
      try {
        tar = decoded.get(m) ??
          (m.kind === "gz"
            ? await gunzip(m.data)
            : m.kind === "xz"
            ? await xzDecode(m.data)
            : m.kind === "zst"
            ? (await import("fzstd")).decompress(m.data)
            : m.data);
      } catch (e) {
        const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
        out.push(bad(m.name, `its control.tar.${m.kind} does not decompress (${why})`));
        continue;
      }
      out.push(readControlTar(tar, m));
    }
    return out;
  }
}

function readControlTar(tar: Uint8Array, m: ControlMember): DebControl | Failure {
  const control = tarFile(tar, "control");
  if (!control) return bad(m.name, "its control archive has no ./control file");
  const stanzas = parseDeb822(utf8.decode(control));
  if ("reason" in stanzas) return bad(m.name, `its control file is malformed (${stanzas.message})`);
  if (stanzas.length !== 1) return bad(m.name, `its control file has ${stanzas.length} stanzas`);
  return { fields: stanzas[0], controlCompression: m.kind };
}

/**
 * The control stanza of the `.deb` at `path`, reading only the archive's head (the
 * `debian-binary` and control members), not the data member.
 */
export async function inspectDeb(path: string): Promise<DebControl | Failure> {
  const head = await readDebHead(path);
  return "reason" in head ? head : await inspectDebBytes(head, path);
}

/** The first bytes of the `.deb` at `path`, through the end of its control member. */
export async function readDebHead(path: string): Promise<Uint8Array | Failure> {
  let head = new Uint8Array(0);
  try {
    using f = await Deno.open(path, { read: true });
    const size = (await f.stat()).size;
    let want = Math.min(size, 64 * 1024);
    for (;;) {
      head = new Uint8Array(want);
      await f.seek(0, Deno.SeekMode.Start);
      let n = 0;
      while (n < want) {
        const r = await f.read(head.subarray(n));
        if (r === null) break;
        n += r;
      }
      head = head.subarray(0, n);
      const need = controlEnd(head);
      if (need === null || need <= head.length || want >= size) break;
      want = Math.min(size, need);
    }
  } catch (e) {
    return failure(DEB_INVALID, `Cannot read ${q(path)}: ${e instanceof Error ? e.message : e}`);
  }
  return head;
}

const AR_MAGIC = "!<arch>\n";

/** Walks the `ar` headers; calls `visit` with each member's name, data offset and size. */
function walkAr(
  bytes: Uint8Array,
  visit: (name: string, offset: number, size: number) => boolean,
): string | null {
  if (bytes.length < 8 || latin1.decode(bytes.subarray(0, 8)) !== AR_MAGIC) {
    return "it is not an ar archive";
  }
  let off = 8;
  while (off + 60 <= bytes.length) {
    const header = latin1.decode(bytes.subarray(off, off + 60));
    if (header.slice(58, 60) !== "`\n") return `its ar header at byte ${off} is corrupt`;
    const memberName = header.slice(0, 16).trimEnd().replace(/\/$/, "");
    const size = Number(header.slice(48, 58).trim());
    if (!Number.isSafeInteger(size) || size < 0) {
      return `its ar member ${q(memberName)} has no size`;
    }
    if (visit(memberName, off + 60, size)) return null;
    off += 60 + size + (size & 1);
  }
  return null;
}

/** Where the control member ends (bytes from the start), or null when the head has no clue yet. */
function controlEnd(head: Uint8Array): number | null {
  let end: number | null = null;
  walkAr(head, (name, offset, size) => {
    if (name.startsWith("control.tar")) {
      end = offset + size;
      return true;
    }
    return false;
  });
  return end;
}

/**
 * Finds the control member of the `.deb` in `bytes` (copied, so the caller may drop the rest).
 */
export function controlMember(bytes: Uint8Array, name: string): ControlMember | Failure {
  let first: string | null = null;
  let found: ControlMember | null = null;
  let cut = false;
  const problem = walkAr(bytes, (member, offset, size) => {
    first ??= member;
    if (!member.startsWith("control.tar")) return false;
    const ext = member.slice("control.tar".length);
    const kind = ext === ".gz"
      ? "gz"
      : ext === ".xz"
      ? "xz"
      : ext === ".zst"
      ? "zst"
      : ext === ""
      ? "none"
      : null;
    if (kind === null) return false;
    if (offset + size > bytes.length) cut = true;
    else found = { name, kind, data: bytes.slice(offset, offset + size) };
    return true;
  });
  if (problem) return bad(name, problem);
  if (first !== "debian-binary") return bad(name, "its first ar member is not debian-binary");
  if (cut) return bad(name, "it ends inside its control member (truncated file)");
  if (!found) return bad(name, "it has no control.tar, control.tar.gz, .xz or .zst member");
  return found;
}

/** The contents of regular file `want` (`./want` or `want`) in a tar archive, or null. */
function tarFile(tar: Uint8Array, want: string): Uint8Array | null {
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h[0] === 0) return null; // end-of-archive block
    const size = parseInt(latin1.decode(h.subarray(124, 136)).replace(/\0.*$/s, "").trim(), 8);
    if (!Number.isSafeInteger(size)) return null;
    const type = String.fromCharCode(h[156]);
    const data = off + 512;
    if (type === "L") {
      longName = latin1.decode(tar.subarray(data, data + size)).replace(/\0.*$/s, "");
    } else {
      const prefix = h[257] === 0x75 /* "ustar" */ ? cstr(h.subarray(345, 500)) : "";
      const entry = longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h));
      longName = null;
      if ((type === "0" || type === "\0") && entry.replace(/^\.\//, "") === want) {
        return data + size <= tar.length ? tar.subarray(data, data + size) : null;
      }
    }
    off = data + Math.ceil(size / 512) * 512;
  }
  return null;
}

function cstr(b: Uint8Array): string {
  const end = b.indexOf(0);
  return latin1.decode(end < 0 ? b : b.subarray(0, end));
}

function bad(name: string, why: string): Failure {
  return failure(DEB_INVALID, `${q(name)} is not a valid .deb: ${why}; rebuild it with dpkg-deb`);
}

function q(s: string): string {
  return JSON.stringify(s);
}
