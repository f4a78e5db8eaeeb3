/**
 * The demo distro's mirror: a read-only HTTP server on loopback, on a free port, serving one
 * folder the way a distro mirror does (GET and HEAD, byte ranges for resumed downloads, ETag and
 * Last-Modified for `If-Range`). The fetch step starts it, downloads through the same code as for
 * a real distro, and stops it.
 *
 * @module
 */

import { join } from "../../engine/path.ts";

/** A running mirror. */
export interface Mirror {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

function notFound(): Response {
  return new Response("not found\n", { status: 404 });
}

/**
 * Serves the files directly in `dir` on 127.0.0.1 (no folders, no listing, nothing outside it).
 *
 * @example
 * ```ts
 * const mirror = serveMirror("build/demo/mirror");
 * try { await fetchFile({ urls: [`${mirror.url}/SHA256SUMS`], dest: "x" }); }
 * finally { await mirror.close(); }
 * ```
 */
export function serveMirror(dir: string): Mirror {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
      }
      const name = decodeURIComponent(new URL(req.url).pathname.slice(1));
      if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".")) return notFound();
      let file: Deno.FsFile;
      try {
        file = await Deno.open(join(dir, name));
      } catch {
        return notFound();
      }
      const st = await file.stat();
      if (!st.isFile) {
        file.close();
        return notFound();
      }
      const size = st.size;
      const mtime = st.mtime ?? new Date(0);
      const etag = `"${size.toString(16)}-${mtime.getTime().toString(16)}"`;
      const headers = new Headers({
        "accept-ranges": "bytes",
        "etag": etag,
        "last-modified": mtime.toUTCString(),
        "content-type": "application/octet-stream",
      });
      let start = 0;
      let end = size - 1;
      let status = 200;
      const range = req.headers.get("range");
      const ifRange = req.headers.get("if-range");
      if (range && (!ifRange || ifRange === etag || ifRange === mtime.toUTCString())) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range);
        if (m && (m[1] !== "" || m[2] !== "")) {
          start = m[1] === "" ? Math.max(0, size - Number(m[2])) : Number(m[1]);
          end = m[1] !== "" && m[2] !== "" ? Math.min(Number(m[2]), size - 1) : size - 1;
          if (start >= size || start > end) {
            file.close();
            return new Response(null, {
              status: 416,
              headers: { "content-range": `bytes */${size}` },
            });
          }
          status = 206;
          headers.set("content-range", `bytes ${start}-${end}/${size}`);
        }
      }
      headers.set("content-length", String(end - start + 1));
      if (req.method === "HEAD") {
        file.close();
        return new Response(null, { status, headers });
      }
      await file.seek(start, Deno.SeekMode.Start);
      let left = end - start + 1;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const buf = new Uint8Array(Math.min(left, 1 << 20));
          const n = left > 0 ? await file.read(buf) : null;
          if (n === null || n === 0) {
            file.close();
            controller.close();
            return;
          }
          left -= n;
          controller.enqueue(buf.subarray(0, n));
        },
        cancel() {
          file.close();
        },
      });
      return new Response(body, { status, headers });
    },
  );
  const port = server.addr.port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.shutdown();
    },
  };
}
