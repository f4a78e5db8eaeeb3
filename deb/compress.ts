/**
 * Compressing `.deb` members reproducibly, with nothing installed: gzip through `node:zlib`
 * (level 9, no name, mtime 0, the OS byte pinned to Unix so every platform writes the same
 * header), and xz through `@napi-rs/lzma` (a Rust encoder shipped as a prebuilt Node-API module
 * for Linux, macOS and Windows, about as fast as `xz -6`). Where that module cannot load, xz falls
 * back to the `xz` tool (`xz -6 -T1`: one thread, so the output does not depend on the core count).
 *
 * The native module is imported on first use, so commands that never compress with xz do not pay
 * for loading it.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { concatBytes } from "./ar.ts";

/** Compressions a `.deb` member may use. */
export type Compression = "gz" | "xz";

/** How to compress xz: the native module, the `xz` tool, or the module when it loads. */
export type XzBackend = "auto" | "native" | "tool";

/** Options of {@link compress}. */
export interface CompressOptions {
  /** Default `auto`. */
  readonly xz?: XzBackend;
  /** The xz tool to run for the `tool` backend; default `xz` from PATH. */
  readonly xzTool?: string;
}

/** The file-name suffix of a compression, e.g. `.xz` for `data.tar.xz`. */
export function suffix(kind: Compression): string {
  return kind === "gz" ? ".gz" : ".xz";
}

/** What the message says when xz is needed and the tool is not there. */
const XZ_MISSING = "xz compression needs the xz tool; install it or use compression: gz";

type XzModule = typeof import("@napi-rs/lzma");
let native: Promise<XzModule | null> | undefined;

/** The native xz module, or null when it cannot load on this platform. */
function loadNative(): Promise<XzModule | null> {
  native ??= import("@napi-rs/lzma").then((m) => m as XzModule, () => null);
  return native;
}

async function* gzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const { createGzip } = await import("node:zlib");
  const { Readable } = await import("node:stream");
  const z = createGzip({ level: 9 });
  Readable.from(source, { objectMode: false }).on("error", (e) => z.destroy(e)).pipe(z);
  let offset = 0;
  for await (const chunk of z) {
    const bytes = new Uint8Array(chunk as Uint8Array);
    // Byte 9 of the gzip header is the OS that wrote it: pin it to Unix (3), as `gzip -n` does.
    if (offset <= 9 && offset + bytes.length > 9) bytes[9 - offset] = 3;
    offset += bytes.length;
    yield bytes;
  }
}

async function* xzNative(
  mod: XzModule,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const c = new mod.XzCompressor({ preset: 6 });
  for await (const chunk of source) {
    const out = c.update(chunk);
    if (out.length > 0) yield new Uint8Array(out);
  }
  yield new Uint8Array(await c.finish());
}

async function* xzTool(
  child: Deno.ChildProcess,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const feed = (async () => {
    const w = child.stdin.getWriter();
    try {
      for await (const chunk of source) await w.write(chunk);
      await w.close();
    } catch (e) {
      await w.abort(e).catch(() => {});
      throw e;
    }
  })();
  feed.catch(() => {}); // awaited below; keeps an early error from being unhandled
  const stderr = new Response(child.stderr).text();
  let done = false;
  try {
    for await (const chunk of child.stdout) yield chunk;
    await feed;
    const status = await child.status;
    done = true;
    if (!status.success) {
      throw new Error(`xz failed (exit ${status.code}): ${(await stderr).trim()}`);
    }
  } finally {
    if (!done) {
      try {
        child.kill();
      } catch { /* already gone */ }
      await child.status;
    }
  }
}

/**
 * Compresses `source` as `kind`, giving each compressed chunk to `sink` in order. Returns a
 * `tool-missing` {@link Failure} when xz has neither the native module nor the xz tool.
 * Errors of `source` (a file that vanished mid-read) are thrown through.
 *
 * @example
 * ```ts
 * const out = await Deno.open("data.tar.xz", { write: true, create: true });
 * const bad = await compress("xz", tarStream(entries, epoch), (c) => out.write(c).then(() => {}));
 * ```
 */
export async function compress(
  kind: Compression,
  source: AsyncIterable<Uint8Array>,
  sink: (chunk: Uint8Array) => Promise<void>,
  opts: CompressOptions = {},
): Promise<Failure | null> {
  let stream: AsyncIterable<Uint8Array>;
  if (kind === "gz") {
    stream = gzip(source);
  } else {
    const backend = opts.xz ?? "auto";
    const mod = backend === "tool" ? null : await loadNative();
    if (mod) {
      stream = xzNative(mod, source);
    } else if (backend === "native") {
      return failure(
        "tool-missing",
        "xz compression needs the @napi-rs/lzma module, which does not load here; " +
          "use compression: gz",
      );
    } else {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(opts.xzTool ?? "xz", {
          args: ["-6", "-T1", "-c", "-z", "-q"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return failure("tool-missing", XZ_MISSING);
        throw e;
      }
      stream = xzTool(child, source);
    }
  }
  for await (const chunk of stream) await sink(chunk);
  return null;
}

/** {@link compress} for bytes in memory (control.tar, a changelog). */
export async function compressBytes(
  kind: Compression,
  data: Uint8Array,
  opts: CompressOptions = {},
): Promise<Uint8Array | Failure> {
  const parts: Uint8Array[] = [];
  const bad = await compress(
    kind,
    (async function* () {
      yield data;
    })(),
    (c) => {
      parts.push(c);
      return Promise.resolve();
    },
    opts,
  );
  return bad ?? concatBytes(parts);
}
