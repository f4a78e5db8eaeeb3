/**
 * One HTTP request to a remote cache, streamed both ways: a PUT body is read from its file in
 * 1 MiB chunks and a GET body goes to a callback chunk by chunk, so a multi-GB blob never sits
 * in memory.
 *
 * GET, HEAD and small PUTs use `fetch`, whose response body is pulled as it is read (a 300 MiB
 * download grows RSS by ~2 MiB; Deno's `node:http` client buffered up to ~200 MiB ahead of a
 * slower disk). A PUT streamed from a file uses `node:http`: Deno's fetch sends a streamed body
 * chunked and drops its `Content-Length`, which bazel-remote requires (it answers 400). The
 * Node modules are loaded on first use: a build without a remote cache never pays for Node
 * compatibility (~18 ms of start-up).
 *
 * @module
 */

type Http = typeof import("node:http");
type NodeCrypto = typeof import("node:crypto");

let modules: { http: Http; https: Http; crypto: NodeCrypto } | undefined;

/** node:http, node:https and node:crypto, imported once. */
export async function nodeModules(): Promise<{ http: Http; https: Http; crypto: NodeCrypto }> {
  modules ??= {
    http: await import("node:http"),
    https: (await import("node:https")) as unknown as Http,
    crypto: await import("node:crypto"),
  };
  return modules;
}

/** What to send as a request body. */
export type RequestBody =
  | { readonly bytes: Uint8Array }
  /** A file sent as it is read; the request is abandoned unless it hashes to `digest`. */
  | { readonly path: string; readonly size: number; readonly digest: string };

/** One request. */
export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "PUT";
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** The request fails when no byte moves either way for this long. */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** The connection pool for fetch requests (default: the process's). */
  readonly client?: Deno.HttpClient;
}

/** A response; `value` is what `readBody` returned for a 2xx answer to a GET. */
export interface HttpResponse<T> {
  readonly status: number;
  readonly value?: T;
  /** The start of a non-2xx answer's body, for error messages. */
  readonly snippet?: string;
}

/** Thrown when a file sent as a body does not hash to its digest (it changed, or is corrupt). */
export class BodyMismatch extends Error {
  constructor(readonly path: string) {
    super(`"${path}" does not match its digest`);
    this.name = "BodyMismatch";
  }
}

/** Thrown when the request timed out (no progress for `idleTimeoutMs`). */
export class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no progress for ${Math.round(ms / 1000)} s`);
    this.name = "IdleTimeout";
  }
}

const CHUNK = 1024 * 1024;

/** Writes a file to `req` with backpressure, checking its digest before the last byte goes. */
async function writeFile(
  req: import("node:http").ClientRequest,
  body: { path: string; size: number; digest: string },
  crypto: NodeCrypto,
): Promise<void> {
  using f = await Deno.open(body.path, { read: true });
  const hash = crypto.createHash("sha256");
  let sent = 0;
  for (;;) {
    // A fresh buffer per chunk: the request may hold a written chunk until it is flushed.
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, body.size - sent)));
    const n = await f.read(buf);
    if (n === null || n === 0) break;
    const chunk = n === buf.length ? buf : buf.subarray(0, n);
    hash.update(chunk);
    sent += n;
    if (sent >= body.size) {
      // The whole file was read: send its last chunk only if the bytes are the digest's, so a
      // server that does not check digests (a WebDAV folder) never stores a wrong blob.
      const extra = await f.read(new Uint8Array(1));
      if (sent !== body.size || (extra !== null && extra > 0)) throw new BodyMismatch(body.path);
      if (hash.digest("hex") !== body.digest) throw new BodyMismatch(body.path);
      await new Promise<void>((resolve, reject) => {
        req.write(chunk, (e) => (e ? reject(e) : resolve()));
      });
      return;
    }
    if (!req.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          req.off("drain", done);
          req.off("close", done);
          req.destroyed ? reject(new Error("connection closed")) : resolve();
        };
        req.on("drain", done);
        req.on("close", done);
      });
    }
  }
  if (sent !== body.size || hash.digest("hex") !== body.digest) throw new BodyMismatch(body.path);
}

/**
 * Sends one request and waits for its answer. A 2xx answer to a GET is passed to `readBody`
 * as it arrives; other answers' bodies are drained (their first KiB kept for messages).
 *
 * @throws {BodyMismatch} when a file body does not hash to its digest
 * @throws {IdleTimeout} when nothing moved for `idleTimeoutMs`
 * @throws {Error} on network errors (connection refused, reset...) and aborts
 *
 * @example
 * ```ts
 * const r = await httpRequest({ method: "HEAD", url: new URL("http://127.0.0.1:8080/cas/ab..."),
 *   headers: {}, idleTimeoutMs: 30_000 });
 * r.status; // 200 or 404
 * ```
 */
export async function httpRequest<T>(
  r: HttpRequest,
  readBody?: (chunks: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<HttpResponse<T>> {
  return r.body && "path" in r.body ? await nodeRequest(r) : await fetchRequest(r, readBody);
}

/** The start of a body, for messages; the rest is not read. */
async function snippetOf(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  let text = "";
  try {
    while (text.length < 1024) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, 1024).trim();
}

async function fetchRequest<T>(
  r: HttpRequest,
  readBody?: (chunks: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<HttpResponse<T>> {
  r.signal?.throwIfAborted();
  const idle = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bump = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new IdleTimeout(r.idleTimeoutMs)), r.idleTimeoutMs);
  };
  bump();
  const signal = r.signal ? AbortSignal.any([r.signal, idle.signal]) : idle.signal;
  try {
    const body = r.body && "bytes" in r.body ? r.body.bytes as BodyInit : undefined;
    const res = await fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body,
      signal,
      client: r.client,
    });
    bump();
    const status = res.status;
    if (r.method === "GET" && status >= 200 && status < 300 && readBody && res.body) {
      const stream = res.body;
      const chunks = async function* () {
        for await (const c of stream) { // leaving early cancels the stream
          bump();
          yield c;
        }
      };
      return { status, value: await readBody(chunks()) };
    }
    return { status, snippet: await snippetOf(res.body) };
  } catch (e) {
    if (idle.signal.aborted && !r.signal?.aborted) throw new IdleTimeout(r.idleTimeoutMs);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A PUT whose body is a file: streamed with its Content-Length (see the module doc). */
async function nodeRequest(r: HttpRequest): Promise<HttpResponse<never>> {
  const { http, https, crypto } = await nodeModules();
  r.signal?.throwIfAborted();
  const lib = r.url.protocol === "https:" ? https : http;
  const headers: Record<string, string> = { ...r.headers };
  headers["Content-Length"] = String((r.body as { size: number }).size);
  return await new Promise<HttpResponse<never>>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      r.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      reject(e);
    };
    const onAbort = () => fail(r.signal!.reason ?? new Error("aborted"));
    // No agent: a connection per upload, closed after it (big uploads are few; an idle one
    // would keep a gracefully stopping server waiting).
    const req = lib.request(r.url, { method: r.method, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const done = (out: HttpResponse<never>) => {
        if (settled) return;
        settled = true;
        r.signal?.removeEventListener("abort", onAbort);
        resolve(out);
      };
      res.on("error", fail);
      let snippet = "";
      res.on("data", (d: Uint8Array) => {
        if (snippet.length < 1024) snippet += new TextDecoder().decode(d).slice(0, 1024);
      });
      res.on("end", () => done({ status, snippet: snippet.trim() }));
    });
    req.setTimeout(r.idleTimeoutMs, () => fail(new IdleTimeout(r.idleTimeoutMs)));
    req.on("error", fail);
    r.signal?.addEventListener("abort", onAbort, { once: true });
    const body = r.body as { path: string; size: number; digest: string };
    writeFile(req, body, crypto).then(() => req.end(), fail);
  });
}
