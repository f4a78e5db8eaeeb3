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

import { join } from "../engine/path.ts";
import { gunzipSync } from "node:zlib";
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
 * many packages: the xz ones (dpkg-deb's default) are decoded together by one `xz` process beside
 * this one (one process for the lot costs less than decoding each here). Without the xz tool, for
 * members it cannot decode, or for a few members, they are decoded in-process. Results come in
 * the order members were added.
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
    if (!batch || batch.size >= XZ_BATCH) {
      batch?.start(); // full: decode it while the caller reads on
      batch = new XzBatch(this.#opts.xzTool ?? "xz", this.#opts.tmpDir);
      this.#batches.push(batch);
    }
    batch.add(m);
  }

  /** The control stanzas, in the order added. */
  async finish(): Promise<(DebControl | Failure)[]> {
    const few = this.#batches.length === 1 && this.#batches[0].size < 8;
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
            ? gunzipSync(m.data)
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

// --- xz: xz-embedded (WebAssembly) driven without web streams -----------------------------------

interface XzExports {
  readonly memory: WebAssembly.Memory;
  create_context(): number;
  destroy_context(ptr: number): void;
  supply_input(ptr: number, n: number): void;
  get_next_output(ptr: number): number;
}

type XzStreamClass = (new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>) & {
  _moduleInstance?: WebAssembly.Instance;
};
let XzReadableStream: XzStreamClass | undefined;
let xzExports: XzExports | null | undefined;

/**
 * Decompresses through the package's stream API (also loads its WebAssembly module). The package
 * is imported on first use: a repository of packages made by kiln (gz control members) or decoded
 * by the xz tool never pays for it.
 */
async function xzViaStream(data: Uint8Array): Promise<Uint8Array> {
  XzReadableStream ??= ((await import("xz-decompress")).default as unknown as {
    XzReadableStream: XzStreamClass;
  }).XzReadableStream;
  const stream = new XzReadableStream(new Blob([data as BlobPart]).stream());
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * xz-decompresses `data`. The package's API is a web stream, which costs more per small member
 * than decoding does; after the first call loads the module, its exports are driven directly
 * (the same calls its stream makes). Should a later version hide them, the stream is used.
 */
async function xzDecode(data: Uint8Array): Promise<Uint8Array> {
  if (xzExports === undefined) {
    const out = await xzViaStream(data);
    const exp = XzReadableStream!._moduleInstance?.exports as unknown as XzExports | undefined;
    xzExports = exp && typeof exp.get_next_output === "function" ? exp : null;
    return out;
  }
  return xzExports ? xzDecodeSync(xzExports, data) : await xzViaStream(data);
}

/** The uncompressed size of a single-stream `.xz` (from its index), or null if it is not one. */
function xzSize(x: Uint8Array): number | null {
  if (x.length < 32 || x[0] !== 0xfd || x[x.length - 2] !== 0x59 || x[x.length - 1] !== 0x5a) {
    return null;
  }
  const v = new DataView(x.buffer, x.byteOffset, x.byteLength);
  const footer = x.length - 12;
  let p = footer - (v.getUint32(footer + 4, true) + 1) * 4;
  if (p < 12 || x[p++] !== 0) return null;
  const read = () => {
    let n = 0, mul = 1;
    for (let i = 0; i < 9; i++) {
      const b = x[p++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 0x80;
    }
    return NaN;
  };
  let total = 0;
  for (let i = 0, count = read(); i < count; i++) {
    read(); // unpadded size
    total += read();
  }
  return Number.isSafeInteger(total) ? total : null;
}

/**
 * One `xz -d` for a batch of members: written to one file (xz reads concatenated streams one
 * after the other) and decoded file to file, so the process runs at full speed whatever this
 * thread does meanwhile (a pipe would stall whenever it is busy). The output is split by the
 * sizes the members' indexes give. If xz fails (a corrupt member), no member is taken from it and
 * each is decoded in-process, so the bad one is named.
 */
class XzBatch {
  readonly #sent: { m: ControlMember; size: number }[] = [];
  #running: Promise<Map<ControlMember, Uint8Array>> | null = null;

  constructor(readonly tool: string, readonly tmpDir: string | undefined) {}

  get size(): number {
    return this.#sent.length;
  }

  add(m: ControlMember): void {
    const size = xzSize(m.data);
    if (size !== null) this.#sent.push({ m, size });
  }

  /** Starts xz on what was added (once); it runs while the caller goes on. */
  start(): Promise<Map<ControlMember, Uint8Array>> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<Map<ControlMember, Uint8Array>> {
    const done = new Map<ControlMember, Uint8Array>();
    if (!this.#sent.length) return done;
    const own = this.tmpDir === undefined;
    const dir = this.tmpDir ?? Deno.makeTempDirSync({ prefix: "kiln-xz-" });
    const file = join(dir, `control-${crypto.randomUUID()}.xz`);
    try {
      Deno.mkdirSync(dir, { recursive: true });
      let total = 0;
      for (const x of this.#sent) total += x.m.data.length;
      const all = new Uint8Array(total);
      let at = 0;
      for (const x of this.#sent) {
        all.set(x.m.data, at);
        at += x.m.data.length;
      }
      Deno.writeFileSync(file, all);
      let status: Promise<Deno.CommandStatus>;
      try {
        status = new Deno.Command(this.tool, {
          args: ["-d", "-k", "-f", "-q", "--format=xz", "-T1", file],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn().status;
      } catch {
        return done; // no xz tool: decode in-process
      }
      if (!(await status).success) return done;
      const out = Deno.readFileSync(file.slice(0, -3));
      if (out.length !== this.#sent.reduce((n, x) => n + x.size, 0)) return done;
      at = 0;
      for (const { m, size } of this.#sent) {
        done.set(m, out.subarray(at, at + size));
        at += size;
      }
      return done;
    } finally {
      for (const f of own ? [dir] : [file, file.slice(0, -3)]) {
        try {
          Deno.removeSync(f, { recursive: true });
        } catch { /* not made */ }
      }
    }
  }
}

/** Members per xz process: batches decode while later files are still being read. */
const XZ_BATCH = 250;

const XZ_OK = 0;
const XZ_STREAM_END = 1;

function xzDecodeSync(ex: XzExports, input: Uint8Array): Uint8Array {
  const ptr = ex.create_context();
  try {
    // Context layout (u32): bufSize, inPtr, inPos, inSize, outPtr, outPos.
    let ctx = new Uint32Array(ex.memory.buffer, ptr, 6);
    const bufSize = ctx[0];
    const parts: Uint8Array[] = [];
    let fed = 0;
    let total = 0;
    for (let guard = 0;; guard++) {
      if (ctx[2] === ctx[3]) { // input consumed: feed more (an empty feed marks the end)
        const n = Math.min(bufSize, input.length - fed);
        new Uint8Array(ex.memory.buffer, ctx[1], n).set(input.subarray(fed, fed + n));
        fed += n;
        ex.supply_input(ptr, n);
        ctx = new Uint32Array(ex.memory.buffer, ptr, 6);
      }
      const r = ex.get_next_output(ptr);
      ctx = new Uint32Array(ex.memory.buffer, ptr, 6);
      if (r !== XZ_OK && r !== XZ_STREAM_END) throw new Error(`xz error code ${r}`);
      parts.push(new Uint8Array(ex.memory.buffer, ctx[4], ctx[5]).slice());
      total += ctx[5];
      ctx[5] = 0;
      if (r === XZ_STREAM_END) break;
      if (guard > 4 * (input.length / bufSize + 16) + total / bufSize) {
        throw new Error("xz stream is truncated");
      }
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  } finally {
    ex.destroy_context(ptr);
  }
}

function bad(name: string, why: string): Failure {
  return failure(DEB_INVALID, `${q(name)} is not a valid .deb: ${why}; rebuild it with dpkg-deb`);
}

function q(s: string): string {
  return JSON.stringify(s);
}
