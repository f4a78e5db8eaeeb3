/**
 * A client for the Bazel HTTP remote cache layout: `GET/PUT/HEAD <base>/cas/<sha256>` for
 * blobs and `<base>/ac/<key>` for action entries, as spoken by bazel-remote, an nginx WebDAV
 * folder, or any server that stores what is PUT and serves it back.
 *
 * Every blob is verified: a download streams to a file while it is hashed and is kept only if
 * the SHA-256 matches; an upload is hashed as it is sent and abandoned before its last byte if
 * the file is not what its digest says. Uploads the server already holds are skipped (HEAD).
 * Network errors, timeouts, 429 and 5xx answers are retried with exponential backoff; other
 * answers are not. At most `concurrency` requests run at once.
 *
 * Expected problems are values: a data outcome (`"missing"`, `"mismatch"`, `"exists"`) or a
 * {@link Failure} (`remote-unreachable`, `remote-http-error`) whose message names the server
 * (without credentials), the request and the fix. The auth header never appears in a message.
 *
 * @example
 * ```ts
 * const cache = new HttpCache({ url: "http://127.0.0.1:9090/", headers: { Authorization: "Bearer x" } });
 * await cache.putFile(digest, "/work/out/disk.qcow2", size); // "stored" | "exists" | "mismatch" | Failure
 * await cache.getFile(digest, "/cache/tmp/x", size);         // "ok" | "missing" | "mismatch" | Failure
 * ```
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { Semaphore } from "../engine/semaphore.ts";
import { abortableSleep, backoffDelay } from "../engine/retry.ts";
import {
  BodyMismatch,
  type HttpRequest,
  httpRequest,
  type HttpResponse,
  IdleTimeout,
  nodeModules,
  type RequestBody,
} from "./http_request.ts";

/** The two namespaces of the layout. */
export type CacheKind = "ac" | "cas";

/** Options of {@link HttpCache}. */
export interface HttpCacheOptions {
  /** Base URL; `user:password@` in it becomes a Basic `Authorization` header. */
  readonly url: string;
  /** Extra request headers, e.g. `Authorization` (never printed). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests at once (default 8). */
  readonly concurrency?: number;
  /** A request fails when no byte moved for this long (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Retries after the first attempt on network errors, 429 and 5xx (default 3). */
  readonly retries?: number;
  /** First backoff, doubled on each retry up to 30 times it, half of it jitter (default 250 ms). */
  readonly backoffMs?: number;
  /** Aborts every request (on interrupt). */
  readonly signal?: AbortSignal;
}

/** `<hash>` shortened for messages. */
export function shortHash(hash: string): string {
  return hash.length > 12 ? `${hash.slice(0, 12)}…` : hash;
}

/** The URL without credentials, query or fragment: what messages show. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

const RETRYABLE = (status: number) => status === 429 || status >= 500;

/** What to do about an unexpected status, for the message. */
function advice(status: number, method: string, kind: CacheKind): string {
  if (status === 401 || status === 403) {
    return method === "PUT"
      ? "set KILN_REMOTE_CACHE_HEADER to a credential that may write, or use --cache remote:r"
      : "set KILN_REMOTE_CACHE_HEADER to a credential the server accepts";
  }
  if (status === 405 || status === 501) {
    return "enable uploads on the server (nginx: dav_methods PUT; create_full_put_path on) or use --cache remote:r";
  }
  if (status === 413) return "raise the server's upload limit (nginx: client_max_body_size 0)";
  if (status === 400 && kind === "ac" && method === "PUT") {
    return "the server rejected the action entry as an ActionResult (an old bazel-remote: upgrade it or start it with --disable_http_ac_validation)";
  }
  if (status === 400 && method === "PUT") {
    return "the server refused the blob (bazel-remote: is it over --max_blob_size?)";
  }
  return "check the server's logs";
}

/** A Bazel-layout HTTP cache client; see the module documentation. */
export class HttpCache {
  /** The base URL as messages show it (no credentials). */
  readonly label: string;
  #base: URL;
  #headers: Record<string, string>;
  #slots: Semaphore;
  #idleMs: number;
  #retries: number;
  #backoffMs: number;
  #signal?: AbortSignal;
  #client?: Deno.HttpClient;

  constructor(o: HttpCacheOptions) {
    const base = new URL(o.url.endsWith("/") ? o.url : `${o.url}/`);
    this.#headers = { ...o.headers };
    if (base.username || base.password) {
      const user = decodeURIComponent(base.username), pass = decodeURIComponent(base.password);
      this.#headers["Authorization"] ??= `Basic ${btoa(`${user}:${pass}`)}`;
      base.username = "";
      base.password = "";
    }
    this.#base = base;
    this.label = redactUrl(base);
    this.#slots = new Semaphore(Math.max(1, o.concurrency ?? 8));
    this.#idleMs = o.idleTimeoutMs ?? 60_000;
    this.#retries = Math.max(0, o.retries ?? 3);
    this.#backoffMs = o.backoffMs ?? 250;
    this.#signal = o.signal;
  }

  /**
   * Keep-alive connections of our own, closed after a second idle: requests come in bursts
   * (a flush, a task's restores), and a connection held open for the rest of the build would
   * keep a server that shuts down gracefully (nginx) waiting for it.
   */
  #pool(): Deno.HttpClient {
    this.#client ??= Deno.createHttpClient({ poolIdleTimeout: 1000 });
    return this.#client;
  }

  #url(kind: CacheKind, hash: string): URL {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`not a SHA-256 hex digest: ${hash}`);
    return new URL(`${kind}/${hash}`, this.#base);
  }

  /**
   * One request with retries, holding a concurrency slot per attempt. A {@link BodyMismatch}
   * is rethrown (the caller decides); every other problem becomes a Failure.
   */
  async #send<T>(
    method: HttpRequest["method"],
    kind: CacheKind,
    hash: string,
    extra: { headers?: Record<string, string>; body?: RequestBody } = {},
    readBody?: (chunks: AsyncIterable<Uint8Array>) => Promise<T>,
  ): Promise<HttpResponse<T> | Failure> {
    const what = `${method} /${kind}/${shortHash(hash)}`;
    let problem = "";
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) {
        const policy = { baseMs: this.#backoffMs, maxMs: 30 * this.#backoffMs };
        await abortableSleep(backoffDelay(attempt, policy, Math.random), this.#signal);
      }
      if (this.#signal?.aborted) {
        return failure("remote-unreachable", `Remote cache "${this.label}": ${what} interrupted`);
      }
      const release = await this.#slots.acquire();
      let res: HttpResponse<T>;
      try {
        res = await httpRequest({
          method,
          url: this.#url(kind, hash),
          headers: { ...this.#headers, ...extra.headers },
          body: extra.body,
          idleTimeoutMs: this.#idleMs,
          signal: this.#signal,
          client: this.#pool(),
        }, readBody);
      } catch (e) {
        if (e instanceof BodyMismatch) throw e;
        problem = e instanceof IdleTimeout ? e.message : (e as Error)?.message ?? String(e);
        continue;
      } finally {
        release();
      }
      if (RETRYABLE(res.status)) {
        problem = `answered ${res.status}${res.snippet ? ` (${res.snippet.split("\n")[0]})` : ""}`;
        continue;
      }
      return res;
    }
    const tries = this.#retries + 1;
    return failure(
      "remote-unreachable",
      `Remote cache "${this.label}" failed ${what} after ${tries} attempt${
        tries > 1 ? "s" : ""
      }: ${problem}; check that the server is up and reachable`,
    );
  }

  #unexpected(res: HttpResponse<unknown>, method: string, kind: CacheKind, hash: string): Failure {
    const said = res.snippet ? ` (${res.snippet.split("\n")[0].slice(0, 200)})` : "";
    return failure(
      "remote-http-error",
      `Remote cache "${this.label}" answered ${res.status} to ${method} /${kind}/${
        shortHash(hash)
      }${said}: ${advice(res.status, method, kind)}`,
    );
  }

  /** Whether the server holds `kind/hash`. */
  async head(kind: CacheKind, hash: string): Promise<boolean | Failure> {
    const res = await this.#send("HEAD", kind, hash);
    if ("reason" in res) return res;
    if (res.status >= 200 && res.status < 300) return true;
    if (res.status === 404) return false;
    return this.#unexpected(res, "HEAD", kind, hash);
  }

  /**
   * The body of `kind/hash`, at most `maxBytes`. For `cas`, the bytes must hash to `hash`, and
   * fit in `maxBytes` (else `"mismatch"`); a larger action entry is a failure. An action entry is asked for as JSON
   * (`Accept: application/json`), which bazel-remote answers with its protojson form.
   */
  async getBytes(
    kind: CacheKind,
    hash: string,
    maxBytes: number,
  ): Promise<Uint8Array | "missing" | "mismatch" | Failure> {
    const headers: Record<string, string> = kind === "ac" ? { Accept: "application/json" } : {};
    const res = await this.#send("GET", kind, hash, { headers }, async (chunks) => {
      const parts: Uint8Array[] = [];
      let n = 0;
      for await (const c of chunks) {
        n += c.length;
        if (n > maxBytes) return null;
        parts.push(c);
      }
      const out = new Uint8Array(n);
      let o = 0;
      for (const p of parts) (out.set(p, o), o += p.length);
      return out;
    });
    if ("reason" in res) return res;
    if (res.status === 404) return "missing";
    if (res.status < 200 || res.status >= 300) return this.#unexpected(res, "GET", kind, hash);
    if (!res.value) {
      if (kind === "cas") return "mismatch"; // larger than the blob asked for can be
      return failure(
        "remote-http-error",
        `Remote cache "${this.label}" sent more than ${maxBytes} bytes for GET /${kind}/${
          shortHash(hash)
        }: check that the URL points at a cache`,
      );
    }
    if (kind === "cas") {
      const { crypto } = await nodeModules();
      if (crypto.createHash("sha256").update(res.value).digest("hex") !== hash) return "mismatch";
    }
    return res.value;
  }

  /**
   * Downloads blob `hash` to `dest` (created or truncated), hashing it as it arrives; keeps it
   * only if it hashes to `hash` (and has `size` bytes, when given), else removes it.
   */
  async getFile(
    hash: string,
    dest: string,
    size?: number,
  ): Promise<"ok" | "missing" | "mismatch" | Failure> {
    const { crypto } = await nodeModules();
    const res = await this.#send("GET", "cas", hash, {}, async (chunks) => {
      const h = crypto.createHash("sha256");
      let n = 0;
      using f = await Deno.open(dest, { write: true, create: true, truncate: true });
      for await (const c of chunks) {
        h.update(c);
        n += c.length;
        let off = 0;
        while (off < c.length) off += await f.write(c.subarray(off));
      }
      return { digest: h.digest("hex") as string, n };
    });
    if ("reason" in res || res.status !== 200) await Deno.remove(dest).catch(() => {});
    if ("reason" in res) return res;
    if (res.status === 404) return "missing";
    if (res.status !== 200) return this.#unexpected(res, "GET", "cas", hash);
    const got = res.value!;
    if (got.digest !== hash || (size !== undefined && got.n !== size)) {
      await Deno.remove(dest).catch(() => {});
      return "mismatch";
    }
    return "ok";
  }

  async #put(
    kind: CacheKind,
    hash: string,
    body: RequestBody,
    headers: Record<string, string>,
  ): Promise<"stored" | Failure> {
    const res = await this.#send("PUT", kind, hash, { body, headers });
    if ("reason" in res) return res;
    if (res.status >= 200 && res.status < 300) return "stored";
    return this.#unexpected(res, "PUT", kind, hash);
  }

  /**
   * Uploads the file at `path` as blob `hash`, unless the server has it (`force`: even then, to
   * replace a copy found corrupt). The file is hashed as it is sent; `"mismatch"` when it is
   * not `hash` (nothing is stored then).
   */
  async putFile(
    hash: string,
    path: string,
    size: number,
    o: { force?: boolean } = {},
  ): Promise<"stored" | "exists" | "mismatch" | Failure> {
    if (!o.force) {
      const has = await this.head("cas", hash);
      if (has !== false) return has === true ? "exists" : has;
    }
    try {
      return await this.#put("cas", hash, { path, size, digest: hash }, {
        "Content-Type": "application/octet-stream",
      });
    } catch (e) {
      if (e instanceof BodyMismatch) return "mismatch";
      throw e;
    }
  }

  /**
   * Uploads `bytes` under `kind/hash`. A blob the server has is skipped (unless `force`); an
   * action entry is always written (a newer result replaces one that failed verification).
   */
  async putBytes(
    kind: CacheKind,
    hash: string,
    bytes: Uint8Array,
    contentType = "application/octet-stream",
    o: { force?: boolean } = {},
  ): Promise<"stored" | "exists" | Failure> {
    if (kind === "cas" && !o.force) {
      const has = await this.head("cas", hash);
      if (has !== false) return has === true ? "exists" : has;
    }
    return await this.#put(kind, hash, { bytes }, { "Content-Type": contentType });
  }
}
