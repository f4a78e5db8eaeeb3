/**
 * Decoding the xz control members of .deb files, fast: batches of members decoded in one go,
 * by liblzma on Deno's blocking thread pool where it loads (`engine/liblzma.ts`: no process to
 * start, and this thread reads on meanwhile), else by the `xz` tool in another process (file to
 * file, so it runs at full speed); single members by liblzma, or by xz-embedded (WebAssembly,
 * driven without web streams) without it. A batch that fails is decoded member by member, so a
 * corrupt member is named. Apart from `inspect.ts` because it is a codec, not the .deb format.
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";
import { type Liblzma, loadLiblzma } from "../engine/liblzma.ts";
import { join } from "../engine/path.ts";
import type { ControlMember } from "./inspect.ts";

const LZMA_OK = 0;
const LZMA_CONCATENATED = 0x08;
/** Enough for any control member dpkg-deb writes (xz -9 needs 65 MiB), not for a hostile one. */
const MEMLIMIT = 256n * 1024n * 1024n;

/**
 * Decodes `input`, one or more concatenated xz streams, into exactly `size` bytes with liblzma,
 * off this thread; null when it is not that (corrupt, truncated, another size).
 */
async function liblzmaDecode(
  l: Liblzma,
  input: Uint8Array,
  size: number,
): Promise<Uint8Array | null> {
  const memlimit = new BigUint64Array([MEMLIMIT]);
  const inPos = new BigUint64Array(1);
  const outPos = new BigUint64Array(1);
  const out = new Uint8Array(size + 1); // one spare byte: more output than expected shows
  const rc = await l.lzma_stream_buffer_decode(
    new Uint8Array(memlimit.buffer),
    LZMA_CONCATENATED,
    null,
    input,
    new Uint8Array(inPos.buffer),
    BigInt(input.length),
    out,
    new Uint8Array(outPos.buffer),
    BigInt(out.length),
  );
  void input.length; // keep the input alive until the call has returned
  if (rc !== LZMA_OK || Number(outPos[0]) !== size || Number(inPos[0]) !== input.length) {
    return null;
  }
  return out.subarray(0, size);
}

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
export async function xzDecode(data: Uint8Array): Promise<Uint8Array> {
  const lzma = loadLiblzma();
  const size = lzma ? xzSize(data) : null;
  if (lzma && size !== null) {
    const out = await liblzmaDecode(lzma, data, size);
    if (out) return out;
  }
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
 * A batch of members decoded in one go, as concatenated streams: by one liblzma call off this
 * thread, or without liblzma by one `xz -d` written to one file and decoded file to file, so the
 * process runs at full speed whatever this thread does meanwhile (a pipe would stall whenever it
 * is busy). The output is split by the sizes the members' indexes give. If decoding fails (a
 * corrupt member), no member is taken from it and each is decoded alone, so the bad one is named.
 */
export class XzBatch {
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

  /** The batch's output cut into its members' (by the sizes their indexes give). */
  #split(out: Uint8Array): Map<ControlMember, Uint8Array> {
    const done = new Map<ControlMember, Uint8Array>();
    let at = 0;
    for (const { m, size } of this.#sent) {
      done.set(m, out.subarray(at, at + size));
      at += size;
    }
    return done;
  }

  /** Starts decoding what was added (once); it runs while the caller goes on. */
  start(): Promise<Map<ControlMember, Uint8Array>> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<Map<ControlMember, Uint8Array>> {
    const done = new Map<ControlMember, Uint8Array>();
    if (!this.#sent.length) return done;
    const lzma = loadLiblzma();
    if (lzma) {
      const total = this.#sent.reduce((n, x) => n + x.size, 0);
      const out = await liblzmaDecode(lzma, concatBytes(this.#sent.map((x) => x.m.data)), total);
      return out ? this.#split(out) : done;
    }
    const own = this.tmpDir === undefined;
    const dir = this.tmpDir ?? Deno.makeTempDirSync({ prefix: "kiln-xz-" });
    const file = join(dir, `control-${crypto.randomUUID()}.xz`);
    try {
      Deno.mkdirSync(dir, { recursive: true });
      Deno.writeFileSync(file, concatBytes(this.#sent.map((x) => x.m.data)));
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
      return out.length === this.#sent.reduce((n, x) => n + x.size, 0) ? this.#split(out) : done;
    } finally {
      for (const f of own ? [dir] : [file, file.slice(0, -3)]) {
        try {
          Deno.removeSync(f, { recursive: true });
        } catch { /* not made */ }
      }
    }
  }
}

/**
 * Members per batch: batches decode while later files are still being read, so the last one is
 * all that is left to wait for. A process costs its start, so the tool gets larger batches.
 */
export function xzBatchSize(): number {
  return loadLiblzma() ? 64 : 250;
}

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
    return parts.length === 1 ? parts[0] : concatBytes(parts);
  } finally {
    ex.destroy_context(ptr);
  }
}
