/**
 * A real HTTP server on loopback that serves a folder the way download mirrors do (`Range`,
 * `If-Range`, strong `ETag`, `Last-Modified`, 416), and misbehaves on request: per path, a queue
 * of {@link Fault}s (cut the connection after N bytes, answer 500 N times, ignore `Range`, stall,
 * delay the headers). Every request is logged with what was sent, so tests can check that a
 * download resumed with a Range request or never touched the network.
 *
 * Used by the fetch and ISO cache tests and the pipeline's end-to-end tests (the demo distro itself
 * is served by the small production mirror in `iso/demo/mirror.ts`, which misbehaves on no request).
 *
 * @example
 * ```ts
 * await using mirror = await startMirror(dir);
 * mirror.fault("/a.iso", { cutAfter: 1000 }); // the next request for /a.iso is cut once
 * await fetch(mirror.url("a.iso"));
 * mirror.requestsFor("/a.iso").length; // 1
 * ```
 *
 * @module
 */

/** One misbehaviour, applied to the next `times` requests for its path (default 1). */
export interface Fault {
  readonly times?: number;
  /** Answer with this status and a short text body instead of the file. */
  readonly status?: number;
  /** With `status`: a `Retry-After` header, in seconds. */
  readonly retryAfter?: number;
  /** Send this many body bytes, then drop the connection (the body is short of its length). */
  readonly cutAfter?: number;
  /**
   * Send this many body bytes, then nothing for `stallMs` or until {@link HttpMirror.releaseStalls}
   * (then the rest); without either, until the client leaves.
   */
  readonly stallAfter?: number;
  readonly stallMs?: number;
  /** Answer `200` with the whole file even to a `Range` request, as some servers do. */
  readonly ignoreRange?: boolean;
  /** Wait this long before sending the status line and headers. */
  readonly headerDelayMs?: number;
  /** Send the whole file gzip-encoded, whatever `Accept-Encoding` says, as misconfigured servers do. */
  readonly gzip?: boolean;
}

/** What the mirror saw and did for one request. */
export interface RequestRecord {
  readonly method: string;
  /** URL path, e.g. `/a.iso`. */
  readonly path: string;
  readonly range: string | null;
  readonly ifRange: string | null;
  status: number;
  /** The fault applied, as JSON, or `null`. */
  fault: string | null;
  /** Body bytes sent so far. */
  bytesSent: number;
  /** True once the whole body was sent. */
  completed: boolean;
}

/** Options of {@link startMirror}. */
export interface MirrorOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly hostname?: string;
  /** Body chunk size (default 256 KiB). */
  readonly chunkSize?: number;
}

/** A running mirror; see the module documentation. */
export interface HttpMirror extends AsyncDisposable {
  /** The folder served. */
  readonly root: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Absolute URL of `path` (with or without its leading `/`). */
  url(path: string): string;
  /** Queues faults for `path`; each applies to its next `times` requests, in order. */
  fault(path: string, ...faults: Fault[]): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** Ends every current stall: those bodies continue. Returns how many there were. */
  releaseStalls(): number;
  /** Every request so far, oldest first. */
  readonly requests: readonly RequestRecord[];
  /** The requests for `path`. */
  requestsFor(path: string): RequestRecord[];
  /** Stops the server, ending stalled responses first. */
  close(): Promise<void>;
}

type StallEnd = "released" | "closed";

interface QueuedFault {
  fault: Fault;
  left: number;
}

function normPath(p: string): string {
  return p.startsWith("/") ? p : `/${p}`;
}

/** A strong ETag from size, mtime and inode: a file replaced by rename gets a new one. */
function etagOf(st: Deno.FileInfo): string {
  const mtime = st.mtime?.getTime() ?? 0;
  return `"${st.size.toString(16)}-${mtime.toString(16)}-${(st.ino ?? 0).toString(16)}"`;
}

/** Parses a single `bytes=` range against `size`: `[start, end]` inclusive, "bad" or null. */
function parseRange(header: string, size: number): [number, number] | "unsatisfiable" | null {
  const m = header.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === "" && m[2] === "")) return null; // multi-range or malformed: ignored
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
}

/**
 * Starts a mirror of `root` on loopback.
 *
 * @example
 * ```ts
 * const mirror = await startMirror("/work/main/test/.tmp/m1");
 * mirror.fault("/x.iso", { status: 500, times: 2 }, { cutAfter: 4096 });
 * ```
 */
export function startMirror(root: string, o: MirrorOptions = {}): Promise<HttpMirror> {
  const faults = new Map<string, QueuedFault[]>();
  const requests: RequestRecord[] = [];
  const stalls = new Set<(how: StallEnd) => void>();
  const chunkSize = o.chunkSize ?? 256 * 1024;
  let closing = false;

  const takeFault = (path: string): Fault | null => {
    const q = faults.get(path);
    if (!q?.length) return null;
    const head = q[0];
    if (--head.left <= 0) q.shift();
    return head.fault;
  };

  /** Resolves after `ms` (forever when undefined), on release, on close or when `cancelled`. */
  const stall = (ms: number | undefined, cancelled: Promise<void>): Promise<StallEnd> =>
    new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (how: StallEnd) => {
        clearTimeout(timer);
        stalls.delete(done);
        resolve(how);
      };
      if (closing) return resolve("closed");
      stalls.add(done);
      if (ms !== undefined) timer = setTimeout(() => done("released"), ms);
      cancelled.then(() => done("closed"));
    });

  const body = (
    file: Deno.FsFile,
    start: number,
    length: number,
    fault: Fault | null,
    rec: RequestRecord,
  ): ReadableStream<Uint8Array> => {
    let pos = 0;
    let stalled = false;
    let cancel!: () => void;
    const cancelled = new Promise<void>((r) => cancel = r);
    const close = () => {
      try {
        file.close();
      } catch { /* closed */ }
    };
    return new ReadableStream<Uint8Array>({
      async start() {
        await file.seek(start, Deno.SeekMode.Start);
      },
      async pull(c) {
        if (fault?.cutAfter !== undefined && pos >= fault.cutAfter) {
          // Closing short of Content-Length makes the server drop the connection.
          close();
          c.close();
          return;
        }
        if (fault?.stallAfter !== undefined && pos >= fault.stallAfter && !stalled) {
          stalled = true;
          if (await stall(fault.stallMs, cancelled) === "closed") {
            close();
            c.close();
            return;
          }
        }
        if (pos >= length) {
          rec.completed = true;
          close();
          c.close();
          return;
        }
        let n = Math.min(chunkSize, length - pos);
        for (const limit of [fault?.cutAfter, stalled ? undefined : fault?.stallAfter]) {
          if (limit !== undefined && limit > pos) n = Math.min(n, limit - pos);
        }
        const buf = new Uint8Array(n);
        let got = 0;
        while (got < n) {
          const r = await file.read(buf.subarray(got));
          if (r === null) break;
          got += r;
        }
        if (got === 0) {
          close();
          c.close();
          return;
        }
        pos += got;
        rec.bytesSent += got;
        c.enqueue(got === n ? buf : buf.subarray(0, got));
      },
      cancel() {
        cancel();
        close();
      },
    });
  };

  const handle = async (req: Request): Promise<Response> => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const rec: RequestRecord = {
      method: req.method,
      path,
      range: req.headers.get("range"),
      ifRange: req.headers.get("if-range"),
      status: 0,
      fault: null,
      bytesSent: 0,
      completed: false,
    };
    requests.push(rec);
    const fault = takeFault(path);
    rec.fault = fault ? JSON.stringify(fault) : null;
    if (fault?.headerDelayMs) await stall(fault.headerDelayMs, new Promise(() => {}));
    const text = (status: number, msg: string, headers: Record<string, string> = {}) => {
      rec.status = status;
      rec.completed = true;
      return new Response(`${msg}\n`, {
        status,
        headers: { "content-type": "text/plain", ...headers },
      });
    };
    if (fault?.status) {
      const h: Record<string, string> = {};
      if (fault.retryAfter !== undefined) h["retry-after"] = String(fault.retryAfter);
      return text(fault.status, `fault injected: ${fault.status}`, h);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed");
    if (path.split("/").includes("..")) return text(400, "bad path");
    let file: Deno.FsFile;
    let st: Deno.FileInfo;
    try {
      file = await Deno.open(`${root}${path}`, { read: true });
      st = await file.stat();
      if (!st.isFile) {
        file.close();
        return text(404, "not found");
      }
    } catch {
      return text(404, "not found");
    }
    const etag = etagOf(st);
    const lastModified = (st.mtime ?? new Date(0)).toUTCString();
    const headers: Record<string, string> = {
      "accept-ranges": "bytes",
      "etag": etag,
      "last-modified": lastModified,
      "content-type": "application/octet-stream",
    };
    let start = 0;
    let length = st.size;
    let status = 200;
    if (rec.range && !fault?.ignoreRange) {
      const validatorOk = rec.ifRange === null || rec.ifRange === etag ||
        rec.ifRange === lastModified;
      const r = validatorOk ? parseRange(rec.range, st.size) : null;
      if (r === "unsatisfiable") {
        file.close();
        return text(416, "range not satisfiable", { "content-range": `bytes */${st.size}` });
      }
      if (r) {
        [start, length, status] = [r[0], r[1] - r[0] + 1, 206];
        headers["content-range"] = `bytes ${r[0]}-${r[1]}/${st.size}`;
      }
    }
    if (fault?.gzip) {
      const gz = new Response(file.readable.pipeThrough(new CompressionStream("gzip")));
      const bytes = new Uint8Array(await gz.arrayBuffer());
      rec.status = 200;
      rec.bytesSent = bytes.length;
      rec.completed = true;
      delete headers["content-range"];
      return new Response(bytes, {
        status: 200,
        headers: { ...headers, "content-encoding": "gzip", "content-length": String(bytes.length) },
      });
    }
    headers["content-length"] = String(length);
    rec.status = status;
    if (req.method === "HEAD") {
      file.close();
      rec.completed = true;
      return new Response(null, { status, headers });
    }
    return new Response(body(file, start, length, fault, rec), { status, headers });
  };

  const server = Deno.serve({
    port: o.port ?? 0,
    hostname: o.hostname ?? "127.0.0.1",
    onListen() {},
  }, handle);
  const port = server.addr.port;
  const origin = `http://${o.hostname ?? "127.0.0.1"}:${port}`;

  const close = async () => {
    if (closing) return;
    closing = true;
    for (const end of [...stalls]) end("closed");
    await server.shutdown();
  };

  return Promise.resolve({
    root,
    port,
    origin,
    url: (path) => `${origin}${normPath(path)}`,
    fault(path, ...fs) {
      const key = normPath(path);
      const q = faults.get(key) ?? [];
      for (const f of fs) q.push({ fault: f, left: f.times ?? 1 });
      faults.set(key, q);
    },
    clearFaults: () => faults.clear(),
    releaseStalls() {
      const n = stalls.size;
      for (const end of [...stalls]) end("released");
      return n;
    },
    requests,
    requestsFor: (path) => requests.filter((r) => r.path === normPath(path)),
    close,
    [Symbol.asyncDispose]: close,
  });
}
