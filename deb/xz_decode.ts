/**
 * Decoding the xz control members of .deb files, fast: batches of members decoded by the `xz`
 * tool in another process (file to file, so it runs at full speed), and in-process decoding
 * with xz-embedded (WebAssembly, driven without web streams) for the rest or when the tool
 * fails, so a corrupt member is named. Apart from `inspect.ts` because it is a codec, not the
 * .deb format.
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";
import { join } from "../engine/path.ts";
import type { ControlMember } from "./inspect.ts";

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
      if (out.length !== this.#sent.reduce((n, x) => n + x.size, 0)) return done;
      let at = 0;
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
export const XZ_BATCH = 250;

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
