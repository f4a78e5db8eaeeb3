/**
 * Downloads one file over HTTP(S) the way an ISO needs it: resumable, verified, never half-written.
 *
 * - The body streams to `dest + ".partial"`, renamed to `dest` only when complete (and, with
 *   `expectedSha256`, verified): a killed process never leaves a partial file at `dest`.
 * - A cut connection resumes with `Range: bytes=N-` and `If-Range` (the strong ETag, or the
 *   Last-Modified date, that it saw), so a file that changed on the server restarts from zero
 *   instead of being spliced. A server that ignores Range (200), a wrong `Content-Range` or a 416
 *   restart from zero too; a 416 saying the file is exactly as long as the partial completes it.
 * - 404 and other 4xx move to the next mirror at once; 5xx, 408, 429, network errors and timeouts
 *   retry with exponential backoff and jitter (honouring `Retry-After`), then move on. An attempt
 *   that made progress resets the count, so a link that drops every few minutes still finishes.
 * - Ctrl-C (the `signal`) leaves the partial, and the validators in `dest + ".partial.json"`,
 *   for the next run to resume.
 *
 * SHA-256 is computed while streaming. Within one call the hash state survives resumes; a partial
 * left by an earlier process is rehashed once when its download resumes (node:crypto cannot save a
 * hash state; rehashing costs ~1.3 s per 2 GiB here, less than the bytes it saves).
 *
 * Speed: `fetch`'s default reader hands out 64 KiB chunks, whose per-chunk cost halved throughput;
 * a BYOB reader gets ~400 KiB per read. Bodies of {@link FetchOptions.offThreadBytes} or more are
 * hashed by a worker (this module, loaded as one) in 8 MiB batches and written on Deno's I/O
 * thread while the next batch is hashed, so the main thread only reads the socket. On loopback
 * that keeps up with `curl -o`, which neither hashes nor keeps a partial (bench/fetch_throughput.ts);
 * on a busy 2-core machine the ~1.3 s of CPU that hashing 2 GiB needs shows as a gap.
 *
 * @module
 */

import { replaceFileAtomic } from "../engine/durable.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { type FetchProgress, formatBytes } from "./progress.ts";

/** Exponential backoff: failure k waits about `baseMs * 2^(k-1)`, at most `maxMs`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Defaults: 1 s, 2 s, 4 s, ... up to 30 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/** What {@link fetchFile} needs. Only `urls` and `dest` are required. */
export interface FetchOptions {
  /** The primary URL first, then mirrors, tried in order. */
  readonly urls: readonly string[];
  /** Final path; the download goes to `dest + ".partial"` first. */
  readonly dest: string;
  readonly expectedSize?: number;
  /** Lower-case hex; a mismatch is an `iso-checksum-mismatch` and nothing is kept. */
  readonly expectedSha256?: string;
  /** Aborting (Ctrl-C) stops promptly and keeps the partial for a later resume. */
  readonly signal?: AbortSignal;
  /** Retries per URL after a failed attempt (default 4). */
  readonly retries?: number;
  readonly backoff?: BackoffPolicy;
  /** Time allowed until the response headers arrive (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** An attempt receiving nothing for this long is dropped and resumed (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Called as bytes arrive; see `progress.ts` for a renderer. */
  readonly onProgress?: (p: FetchProgress) => void;
  /** One line per retry, restart or mirror change, for the task's log. */
  readonly log?: (line: string) => void;
  /** Waits between retries; inject a fake to test backoff without waiting. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source in [0, 1) (default `Math.random`). */
  readonly random?: () => number;
  /** Flush the file to disk before renaming it into place (default false, as `curl -o`). */
  readonly durable?: boolean;
  /** Bodies at least this large are hashed and written off the main thread (default 64 MiB). */
  readonly offThreadBytes?: number;
}

/** A complete, verified download. */
export interface FetchedFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** The URL (of `urls`) that served the last bytes. */
  readonly url: string;
}

/**
 * The delay before retry number `failure` (1-based): "equal jitter", half fixed and half random,
 * so that retries of many clients spread out while each delay is at least the previous one's
 * maximum (the waits grow).
 *
 * @example
 * ```ts
 * backoffDelay(1, DEFAULT_BACKOFF, () => 0); // 500
 * backoffDelay(3, DEFAULT_BACKOFF, () => 0.999); // ~4000
 * ```
 */
export function backoffDelay(failure: number, policy: BackoffPolicy, random: () => number): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failure - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** A `Retry-After` value (seconds or an HTTP date) in milliseconds from `now`; `null` if absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** Sleeps `ms`, returning early when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// The sink: appends to the partial file and hashes what it appends, inline or in a worker.

type NodeCrypto = typeof import("node:crypto");
type Hash = ReturnType<NodeCrypto["createHash"]>;

const BATCH = 8 * 1024 * 1024;
const WORKER_BUFFERS = 4;
const LANDING = 1024 * 1024;
const SINK_WORKER_NAME = "kiln-fetch-sink";

/** Appends to a file and hashes every byte of it. Used on the main thread or in the worker. */
class SinkCore {
  size = 0;
  #hash: Hash;
  constructor(private crypto: NodeCrypto, private file: Deno.FsFile) {
    this.#hash = crypto.createHash("sha256");
  }

  /** Opens `path`, keeps at most its first `keep` bytes and hashes them. */
  static open(crypto: NodeCrypto, path: string, keep: number): SinkCore {
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    const core = new SinkCore(crypto, file);
    if (file.statSync().size > keep) file.truncateSync(keep);
    if (keep > 0) {
      const buf = new Uint8Array(BATCH);
      for (;;) {
        const n = file.readSync(buf);
        if (n === null || n === 0) break;
        core.#hash.update(buf.subarray(0, n));
        core.size += n;
      }
    }
    file.seekSync(core.size, Deno.SeekMode.Start);
    return core;
  }

  append(view: Uint8Array): void {
    this.hash(view);
    let off = 0;
    while (off < view.length) off += this.file.writeSync(view.subarray(off));
    this.size += view.length;
  }

  /** Hashes `view`, to be written by {@link writeAsync} next. */
  hash(view: Uint8Array): void {
    this.#hash.update(view);
  }

  /** Writes on Deno's blocking-I/O thread, so the caller can hash the next batch meanwhile. */
  async writeAsync(view: Uint8Array): Promise<void> {
    let off = 0;
    while (off < view.length) off += await this.file.write(view.subarray(off));
    this.size += view.length;
  }

  reset(): void {
    this.file.truncateSync(0);
    this.file.seekSync(0, Deno.SeekMode.Start);
    this.#hash = this.crypto.createHash("sha256");
    this.size = 0;
  }

  finish(durable: boolean): { digest: string; size: number } {
    if (durable) this.file.syncDataSync();
    this.close();
    return { digest: this.#hash.digest("hex"), size: this.size };
  }

  close(): void {
    try {
      this.file.close();
    } catch { /* already closed */ }
  }
}

/** A write to the partial file failed (disk full, I/O error): not the mirror's fault. */
class SinkError extends Error {}

/** The caller's `onProgress` threw: a bug to report, not a network error to retry. */
class CallerError extends Error {
  constructor(cause: unknown) {
    super("onProgress threw", { cause });
  }
}

/** Where the body goes; {@link InlineSink} or {@link WorkerSink}. */
interface Sink {
  /** Bytes appended and hashed, once {@link settle} resolves. */
  readonly size: number;
  /** A buffer to fill; it belongs to the caller until {@link push}. */
  take(): Promise<Uint8Array>;
  /** Appends `len` bytes of `buf`, which goes back to the sink. */
  push(buf: Uint8Array, len: number): void;
  /** Waits for pushed data; rejects with a {@link SinkError} if a write failed. */
  settle(): Promise<void>;
  reset(): Promise<void>;
  finish(durable: boolean): Promise<{ digest: string; size: number }>;
  close(): Promise<void>;
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

class InlineSink implements Sink {
  #buf: Uint8Array | null = new Uint8Array(LANDING * 4);
  #error: SinkError | null = null;
  constructor(private core: SinkCore) {}
  get size(): number {
    return this.core.size;
  }
  take(): Promise<Uint8Array> {
    const b = this.#buf;
    if (!b) throw new Error("InlineSink.take() called twice without push()");
    this.#buf = null;
    return Promise.resolve(b);
  }
  push(buf: Uint8Array, len: number): void {
    this.#buf = buf;
    if (this.#error || len === 0) return;
    try {
      this.core.append(buf.subarray(0, len));
    } catch (e) {
      this.#error = new SinkError(message(e));
    }
  }
  settle(): Promise<void> {
    return this.#error ? Promise.reject(this.#error) : Promise.resolve();
  }
  reset(): Promise<void> {
    this.core.reset();
    return Promise.resolve();
  }
  finish(durable: boolean): Promise<{ digest: string; size: number }> {
    return Promise.resolve(this.core.finish(durable));
  }
  close(): Promise<void> {
    this.core.close();
    return Promise.resolve();
  }
}

interface SinkReply {
  t: "ok" | "error";
  size: number;
  digest?: string;
  message?: string;
  buf?: ArrayBuffer;
}

/** Hashes and writes in a worker; the main thread transfers 8 MiB buffers to it and back. */
class WorkerSink implements Sink {
  size = 0;
  #worker: Worker;
  #pending: { resolve: (r: SinkReply) => void; reject: (e: Error) => void }[] = [];
  #free: ArrayBuffer[] = [];
  #allocated = 0;
  #waiting: { resolve: (b: ArrayBuffer) => void; reject: (e: Error) => void }[] = [];
  #last: Promise<unknown> = Promise.resolve();
  #error: SinkError | null = null;
  #closed = false;

  private constructor() {
    this.#worker = new Worker(import.meta.url, { type: "module", name: SINK_WORKER_NAME });
    this.#worker.onmessage = (e: MessageEvent<SinkReply>) => {
      const r = e.data;
      if (r.buf) this.#giveBack(r.buf);
      const p = this.#pending.shift();
      if (r.t === "error") {
        this.#error ??= new SinkError(r.message ?? "write failed");
        p?.reject(this.#error);
      } else {
        this.size = r.size;
        p?.resolve(r);
      }
    };
    this.#worker.onerror = (e) => {
      // the worker died: nothing in flight will come back
      e.preventDefault();
      this.#error ??= new SinkError(e.message);
      for (const p of [...this.#pending.splice(0), ...this.#waiting.splice(0)]) {
        p.reject(this.#error);
      }
    };
  }

  static async open(path: string, keep: number): Promise<WorkerSink> {
    const s = new WorkerSink();
    try {
      await s.#call({ t: "open", path, keep });
    } catch (e) {
      s.#worker.terminate();
      throw e;
    }
    return s;
  }

  #call(msg: Record<string, unknown>, transfer: Transferable[] = []): Promise<SinkReply> {
    if (this.#error) return Promise.reject(this.#error);
    const p = new Promise<SinkReply>((resolve, reject) => this.#pending.push({ resolve, reject }));
    this.#worker.postMessage(msg, transfer);
    this.#last = p.catch(() => {});
    return p;
  }

  #giveBack(b: ArrayBuffer): void {
    const w = this.#waiting.shift();
    if (w) w.resolve(b);
    else this.#free.push(b);
  }

  take(): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(this.#error);
    const b = this.#free.pop();
    if (b) return Promise.resolve(new Uint8Array(b));
    if (this.#allocated < WORKER_BUFFERS) {
      this.#allocated++;
      return Promise.resolve(new Uint8Array(BATCH));
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve: (buf) => resolve(new Uint8Array(buf)), reject });
    });
  }

  push(buf: Uint8Array, len: number): void {
    if (this.#error || len === 0) return this.#giveBack(buf.buffer as ArrayBuffer);
    this.#call({ t: "data", buf: buf.buffer, len }, [buf.buffer as ArrayBuffer]).catch(() => {});
  }

  async settle(): Promise<void> {
    await this.#last;
    if (this.#error) throw this.#error;
  }

  async reset(): Promise<void> {
    await this.#call({ t: "reset" });
  }

  async finish(durable: boolean): Promise<{ digest: string; size: number }> {
    try {
      const r = await this.#call({ t: "finish", durable });
      return { digest: r.digest!, size: r.size };
    } finally {
      this.#closed = true;
      this.#worker.terminate();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#last;
    await Promise.race([this.#call({ t: "close" }).catch(() => {}), abortableSleep(5000)]);
    this.#worker.terminate();
  }
}

/**
 * The worker's side: this module, loaded with `name: SINK_WORKER_NAME`. A batch is hashed as it
 * arrives and written on Deno's blocking-I/O thread, so hashing the next batch overlaps writing
 * this one (when the page cache is slow to take writes, as in this VM, doing both in turn made
 * the worker the bottleneck). Replies go out in message order, a batch's once it is written. The
 * main thread sends a control message (open, reset, finish, close) only when no batch is in
 * flight, and a batch only after "open" replied, so hashing on arrival never races them.
 */
function runSinkWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: (e: MessageEvent) => void;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
  };
  let core: SinkCore | null = null;
  let failed: string | null = null;
  const cryptoReady = import("node:crypto");
  let chain: Promise<void> = Promise.resolve(); // writes and control operations, in order
  scope.onmessage = (e: MessageEvent) => {
    const m = e.data;
    const buf: ArrayBuffer | undefined = m.buf;
    const reply = () =>
      scope.postMessage(
        failed
          ? { t: "error", size: core?.size ?? 0, message: failed, buf }
          : { t: "ok", size: core?.size ?? 0, buf },
        buf ? [buf] : [],
      );
    const attempt = async (op: () => unknown) => {
      try {
        if (!failed) await op();
      } catch (err) {
        failed ??= message(err);
      }
    };
    if (m.t === "data") {
      const view = new Uint8Array(buf!, 0, m.len);
      attempt(() => core!.hash(view));
      chain = chain.then(() => attempt(() => core!.writeAsync(view))).then(reply);
      return;
    }
    chain = chain.then(async () => {
      if (m.t === "finish") {
        const finish = () => scope.postMessage({ t: "ok", ...core!.finish(m.durable) });
        await attempt(finish);
        if (failed) reply();
        return;
      }
      if (m.t === "open") {
        await attempt(async () => core = SinkCore.open(await cryptoReady, m.path, m.keep));
      } else if (m.t === "reset") await attempt(() => core!.reset());
      else if (m.t === "close") core?.close();
      reply();
    });
  };
}

if ((globalThis as { name?: unknown }).name === SINK_WORKER_NAME) runSinkWorker();

/** Opens a sink on `path` keeping its first `keep` bytes; a worker when `big`. */
async function openSink(path: string, keep: number, big: boolean): Promise<Sink> {
  if (big) {
    try {
      return await WorkerSink.open(path, keep);
    } catch (e) {
      if (e instanceof SinkError) throw e;
      // no worker (e.g. a restricted runtime): hash inline, slower but correct
    }
  }
  const crypto = await import("node:crypto");
  try {
    return new InlineSink(SinkCore.open(crypto, path, keep));
  } catch (e) {
    throw new SinkError(message(e));
  }
}

// ---------------------------------------------------------------------------------------------
// One download, across attempts and mirrors.

/** Validators of the bytes in the partial, kept beside it so that a later run can resume. */
interface PartialMeta {
  readonly v: 1;
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly total: number | null;
}

/** How one attempt (one HTTP request) ended. */
type Outcome =
  | { readonly kind: "complete" }
  | { readonly kind: "retry"; readonly error: string; readonly waitMs?: number | null }
  | { readonly kind: "next"; readonly error: string; readonly mismatch?: boolean }
  | { readonly kind: "restart"; readonly error: string }
  | { readonly kind: "interrupted" };

const DEFAULT_OFF_THREAD = 64 * 1024 * 1024;

function readMeta(path: string): PartialMeta | null {
  try {
    const m = JSON.parse(Deno.readTextFileSync(path));
    return m?.v === 1 && typeof m.url === "string" ? m : null;
  } catch {
    return null;
  }
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

function removeQuiet(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* not there */ }
}

/**
 * Reads a body in large pieces: a BYOB reader into a 1 MiB landing buffer gets ~400 KiB per read
 * where the default reader gets 64 KiB chunks. The caller copies out of the landing buffer, so a
 * read that fails (a cut) loses nothing already received, as it would if the batch buffer itself
 * had been handed to the reader. Bodies that are not byte streams use the default reader.
 */
function bodyReader(body: ReadableStream<Uint8Array>): {
  next(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
} {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch { /* not a byte stream */ }
  if (!byob) {
    const plain = body.getReader();
    return { next: () => plain.read(), cancel: () => plain.cancel().catch(() => {}) };
  }
  const reader = byob;
  let land = new Uint8Array(LANDING);
  return {
    async next() {
      const r = await reader.read(land);
      if (r.value) land = new Uint8Array(r.value.buffer); // the same memory, handed back
      return r;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`); `null` when malformed. */
function parseContentRange(h: string | null): { start: number; total: number | null } | null {
  const m = h?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  return m ? { start: Number(m[1]), total: m[3] === "*" ? null : Number(m[3]) } : null;
}

class Download {
  readonly partial: string;
  readonly meta: string;
  readonly name: string;
  sink: Sink | null = null;
  /** Bytes in the partial file. */
  offset: number;
  validators: PartialMeta | null;
  /** The partial holds bytes of more than one response (or of an earlier run). */
  spliced: boolean;
  /** The file's size as the current response declares it. */
  total: number | null = null;

  constructor(readonly o: FetchOptions) {
    this.partial = `${o.dest}.partial`;
    this.meta = `${o.dest}.partial.json`;
    this.name = o.dest.slice(o.dest.lastIndexOf("/") + 1);
    this.offset = sizeOf(this.partial);
    this.validators = readMeta(this.meta);
    if (o.expectedSize !== undefined && this.offset > o.expectedSize) this.offset = 0;
    this.spliced = this.offset > 0;
  }

  #log(line: string): void {
    this.o.log?.(line);
  }

  /** Opens the sink keeping `keep` bytes of the partial, or reuses the open one. */
  async #sinkFor(keep: number, total: number | null): Promise<Sink> {
    if (this.sink && keep === 0 && this.sink.size > 0) await this.sink.reset();
    if (this.sink) return this.sink;
    const size = this.o.expectedSize ?? total ?? keep;
    this.sink = await openSink(
      this.partial,
      keep,
      size >= (this.o.offThreadBytes ?? DEFAULT_OFF_THREAD),
    );
    this.offset = this.sink.size;
    return this.sink;
  }

  /** Empties the partial: the next attempt starts from zero. */
  async discard(): Promise<void> {
    if (this.sink) await this.sink.reset();
    else removeQuiet(this.partial);
    removeQuiet(this.meta);
    this.offset = 0;
    this.validators = null;
    this.spliced = false;
  }

  /** Request headers: a resume asks for the rest, conditional on the validator it holds. */
  async #headers(url: string): Promise<Record<string, string>> {
    const h: Record<string, string> = { "accept-encoding": "identity" };
    if (this.offset === 0) return h;
    const m = this.validators;
    const strong = m?.etag && !m.etag.startsWith("W/") ? m.etag : null;
    const v = m?.url === url && strong ? strong : (m?.lastModified ?? strong);
    if (!v && !this.o.expectedSha256) {
      // Nothing proves the rest belongs to the same file, and no digest will check it.
      await this.discard();
      return h;
    }
    if (v) h["if-range"] = v;
    h.range = `bytes=${this.offset}-`;
    return h;
  }

  /** Sends one request and receives what it can. */
  async attempt(url: string): Promise<Outcome> {
    const o = this.o;
    const connectMs = o.connectTimeoutMs ?? 30_000;
    const ac = new AbortController();
    const why = { timeout: "" };
    const onAbort = () => ac.abort();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      why.timeout = `no response within ${connectMs} ms`;
      ac.abort();
    }, connectMs);
    let res: Response | null = null;
    try {
      const headers = await this.#headers(url);
      try {
        res = await fetch(url, { headers, signal: ac.signal });
      } catch (e) {
        if (o.signal?.aborted) return { kind: "interrupted" };
        return { kind: "retry", error: why.timeout || message(e) };
      } finally {
        clearTimeout(timer);
      }
      const verdict = await this.#judge(url, res);
      return verdict ?? await this.#receive(url, res, ac, why);
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      if (res?.body && !res.body.locked) await res.body.cancel().catch(() => {});
    }
  }

  /** Decides from the status and headers; `null` when the body is to be received. */
  async #judge(url: string, res: Response): Promise<Outcome | null> {
    const o = this.o;
    const status = res.status;
    if (status === 416) {
      const total = res.headers.get("content-range")?.match(/^bytes \*\/(\d+)$/)?.[1];
      if (this.offset > 0 && Number(total) === this.offset) {
        await this.#sinkFor(this.offset, this.offset); // the partial is the whole file
        return { kind: "complete" };
      }
      return {
        kind: "restart",
        error: `range from byte ${this.offset} not satisfiable (HTTP 416)`,
      };
    }
    if (status === 404 || status === 410) {
      return { kind: "next", error: `not found, HTTP ${status}` };
    }
    if (status === 408 || status === 429 || status >= 500) {
      return {
        kind: "retry",
        error: `HTTP ${status}`,
        waitMs: retryAfterMs(res.headers.get("retry-after")),
      };
    }
    if (status !== 200 && status !== 206) return { kind: "next", error: `HTTP ${status}` };
    let total: number | null;
    if (status === 206) {
      const cr = parseContentRange(res.headers.get("content-range"));
      const known = this.validators?.total ?? null;
      if (
        !cr || cr.start !== this.offset ||
        (known !== null && cr.total !== null && cr.total !== known)
      ) {
        const got = res.headers.get("content-range");
        return {
          kind: "restart",
          error: `unexpected Content-Range "${got}" for a resume from byte ${this.offset}`,
        };
      }
      total = cr.total ?? known;
    } else {
      if (this.offset > 0) {
        this.#log(
          `"${url}" sent the whole of "${this.name}" instead of the rest (it ignores Range, or the file changed); restarting from zero`,
        );
      }
      // With our own Accept-Encoding, fetch never decodes: a body a server gzips anyway is kept
      // as sent, as `curl -o` does, and Content-Length is its length (a pinned digest catches it).
      const len = res.headers.get("content-length");
      total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
    }
    if (o.expectedSize !== undefined && total !== null && total !== o.expectedSize) {
      return {
        kind: "next",
        error: `serves ${total} bytes, expected ${o.expectedSize}`,
        mismatch: true,
      };
    }
    const keep = status === 206 ? this.offset : 0;
    const sink = await this.#sinkFor(keep, total);
    if (sink.size !== keep) {
      return { kind: "restart", error: "the partial file changed while resuming" };
    }
    if (status === 206) this.spliced = true;
    else {
      this.spliced = false;
      this.validators = {
        v: 1,
        url,
        etag: res.headers.get("etag"),
        lastModified: res.headers.get("last-modified"),
        total,
      };
      replaceFileAtomic(this.meta, JSON.stringify(this.validators));
    }
    this.offset = sink.size;
    this.total = total;
    return null;
  }

  /** Streams the body into the sink until it ends, breaks or stalls. */
  async #receive(
    url: string,
    res: Response,
    ac: AbortController,
    why: { timeout: string },
  ): Promise<Outcome> {
    const o = this.o;
    const sink = this.sink!;
    const total = this.total;
    const idleMs = o.idleTimeoutMs ?? 60_000;
    let received = sink.size;
    if (!res.body) {
      return total !== null && received < total
        ? { kind: "retry", error: "empty body" }
        : { kind: "complete" };
    }
    const read = bodyReader(res.body);
    let batch: Uint8Array | null = null;
    let fill = 0;
    let last = performance.now();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const watch = (ms: number) => {
      idle = setTimeout(() => {
        const quiet = performance.now() - last;
        if (quiet < idleMs) return watch(idleMs - quiet);
        why.timeout = `no data for ${idleMs} ms`;
        ac.abort();
      }, ms);
    };
    watch(idleMs);
    let error: unknown = null;
    let ended = false;
    let overflow = false;
    try {
      batch = await sink.take();
      for (;;) {
        const { done, value } = await read.next();
        if (done || !value) {
          ended = true;
          break;
        }
        last = performance.now();
        const n = value.byteLength;
        if (total === null && o.expectedSize !== undefined && received + n > o.expectedSize) {
          overflow = true;
          break;
        }
        for (let off = 0; off < n;) {
          const k = Math.min(n - off, batch.byteLength - fill);
          batch.set(value.subarray(off, off + k), fill);
          fill += k;
          off += k;
          if (fill === batch.byteLength) {
            sink.push(batch, fill);
            batch = null;
            fill = 0;
            batch = await sink.take();
            last = performance.now(); // waiting for the disk is not the network's idleness
          }
        }
        received += n;
        try {
          o.onProgress?.({ url, received, total });
        } catch (e) {
          throw new CallerError(e);
        }
      }
    } catch (e) {
      error = e;
    } finally {
      clearTimeout(idle);
      if (batch) sink.push(batch, fill);
      if (!ended) await read.cancel();
    }
    await sink.settle(); // a failed write throws a SinkError: no retry can help
    this.offset = sink.size;
    if (error instanceof SinkError) throw error;
    if (error instanceof CallerError) throw error.cause;
    if (overflow) {
      return { kind: "next", error: `sends more than ${o.expectedSize} bytes`, mismatch: true };
    }
    if (error) {
      if (o.signal?.aborted) return { kind: "interrupted" };
      const at = `after ${formatBytes(received)}`;
      return {
        kind: "retry",
        error: why.timeout ? `${why.timeout} ${at}` : `connection lost ${at}: ${message(error)}`,
      };
    }
    if (total !== null && received < total) {
      return { kind: "retry", error: `connection closed after ${received} of ${total} bytes` };
    }
    return { kind: "complete" };
  }

  /** Closes the sink and checks the file; renames it into place when right. */
  async complete(url: string): Promise<FetchedFile | { problem: string }> {
    const o = this.o;
    const sink = this.sink ?? await this.#sinkFor(this.offset, this.offset);
    this.sink = null;
    const { digest, size } = await sink.finish(o.durable ?? false);
    if (o.expectedSize !== undefined && size !== o.expectedSize) {
      return { problem: `gave ${size} bytes, expected ${o.expectedSize}` };
    }
    const want = o.expectedSha256?.toLowerCase();
    if (want && digest !== want) return { problem: `gave SHA-256 ${digest}, expected ${want}` };
    Deno.renameSync(this.partial, o.dest);
    removeQuiet(this.meta);
    return { path: o.dest, sha256: digest, size, url };
  }

  interrupted(): Failure {
    return failure(
      "interrupted",
      `Download of "${this.name}" was interrupted at ${
        formatBytes(this.offset)
      }; run again to resume`,
    );
  }

  /** Tries each URL in turn, with retries; see the module documentation. */
  async run(): Promise<FetchedFile | Failure> {
    const o = this.o;
    const retries = o.retries ?? 4;
    const sleep = o.sleep ?? abortableSleep;
    const backoff = o.backoff ?? DEFAULT_BACKOFF;
    const tried: string[] = [];
    let mismatch: string | null = null;
    if (this.offset > 0 && this.offset === o.expectedSize && o.expectedSha256) {
      // An earlier run received every byte but stopped before the rename.
      const r = await this.complete(this.validators?.url ?? o.urls[0]);
      if (!("problem" in r)) return r;
      await this.discard();
    }
    for (const [i, url] of o.urls.entries()) {
      if (!/^https?:$/.test(URL.parse(url)?.protocol ?? "")) {
        tried.push(`"${url}" (not an http or https URL)`);
        continue;
      }
      if (i > 0) this.#log(`Trying mirror "${url}" for "${this.name}"`);
      let failures = 0;
      let restarts = 0;
      let retriedWhole = false;
      for (;;) {
        if (o.signal?.aborted) return this.interrupted();
        const before = this.offset;
        const out = await this.attempt(url);
        if (out.kind === "interrupted") return this.interrupted();
        if (out.kind === "complete") {
          const r = await this.complete(url);
          if (!("problem" in r)) return r;
          const spliced = this.spliced;
          await this.discard();
          if (spliced && !retriedWhole) {
            retriedWhole = true;
            this.#log(
              `"${this.name}" from "${url}" ${r.problem} after a resume; downloading it whole`,
            );
            continue;
          }
          mismatch = `"${url}" ${r.problem}`;
          tried.push(mismatch);
          break;
        }
        if (out.kind === "next") {
          tried.push(`"${url}" (${out.error})`);
          if (out.mismatch) mismatch = `"${url}" ${out.error}`;
          break;
        }
        if (out.kind === "restart") {
          await this.discard();
          if (++restarts > retries) {
            tried.push(`"${url}" (${out.error})`);
            break;
          }
          this.#log(`"${url}": ${out.error}; restarting "${this.name}" from zero`);
          continue;
        }
        if (this.offset > before) failures = 0; // progress: a flaky link is not a dead one
        if (++failures > retries) {
          tried.push(`"${url}" (${out.error}; ${failures} attempts)`);
          break;
        }
        const wait = Math.min(
          backoff.maxMs,
          Math.max(backoffDelay(failures, backoff, o.random ?? Math.random), out.waitMs ?? 0),
        );
        this.#log(
          `"${url}": ${out.error}; retry ${failures} of ${retries} in ${
            (wait / 1000).toFixed(1)
          } s`,
        );
        await sleep(wait, o.signal);
      }
    }
    if (mismatch) {
      return failure(
        "iso-checksum-mismatch",
        `Downloaded "${this.name}" does not match: ${mismatch}; check the pinned digest and the mirrors`,
      );
    }
    const kept = this.offset > 0 ? ` (${formatBytes(this.offset)} kept to resume)` : "";
    return failure(
      "iso-fetch-failed",
      `Could not download "${this.name}" from ${
        tried.join(", ")
      }${kept}; check the URLs and the network, then run again`,
    );
  }

  async close(): Promise<void> {
    await this.sink?.close().catch(() => {});
    this.sink = null;
  }
}

/**
 * Downloads `urls[0]` (or a mirror) to `dest`; see the module documentation for the behaviour.
 * Expected failures are values: `iso-fetch-failed` (naming every URL tried and its last error),
 * `iso-checksum-mismatch` (nothing kept) and `interrupted` (the partial kept).
 *
 * Not safe for two processes on the same `dest` at once; `iso_cache.ts` serializes them.
 *
 * @example
 * ```ts
 * const r = await fetchFile({
 *   urls: ["https://cdimage.debian.org/.../debian-12.8.0-amd64-netinst.iso", mirror],
 *   dest: "/var/cache/kiln/isos/tmp/debian.iso",
 *   expectedSha256: "04396d12...",
 *   signal: ctx.signal,
 *   onProgress: (p) => progress.update(p),
 * });
 * if ("reason" in r) return r;
 * ```
 */
export async function fetchFile(o: FetchOptions): Promise<FetchedFile | Failure> {
  if (o.urls.length === 0) throw new Error("fetchFile() needs at least one URL");
  const d = new Download(o);
  try {
    return await d.run();
  } catch (e) {
    if (!(e instanceof SinkError)) throw e;
    return failure(
      "iso-fetch-failed",
      `Could not write "${d.partial}": ${e.message}; free disk space or fix the folder, then run again`,
    );
  } finally {
    await d.close();
  }
}
