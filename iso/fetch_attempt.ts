/**
 * One attempt of a download, one HTTP request: the resume headers (`Range`, `If-Range`), and
 * what the status and headers mean (a 416 that completes or restarts, a `Content-Range` that does
 * not fit, 404 to the next mirror, 5xx/408/429 to a retry), held by {@link Download}, the state
 * that attempts share. Kept apart from `fetch.ts`, whose loop over mirrors and retries only acts
 * on an attempt's {@link Outcome}.
 *
 * @module
 */

import { replaceFileAtomic } from "../engine/durable.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { formatBytes } from "./progress.ts";
import { retryAfterMs } from "../engine/retry.ts";
import { message, type Sink } from "./fetch_sink.ts";
import { openSink } from "./fetch_sink_worker.ts";
import { receiveBody } from "./fetch_body.ts";
import type { FetchedFile, FetchOptions } from "./fetch.ts";

/** Validators of the bytes in the partial, kept beside it so that a later run can resume. */
interface PartialMeta {
  readonly v: 1;
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly total: number | null;
}

/** How one attempt (one HTTP request) ended. */
export type Outcome =
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

/** `bytes START-END/TOTAL` (TOTAL may be `*`); `null` when malformed. */
function parseContentRange(h: string | null): { start: number; total: number | null } | null {
  const m = h?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  return m ? { start: Number(m[1]), total: m[3] === "*" ? null : Number(m[3]) } : null;
}

/**
 * One download's state across attempts and mirrors: the partial file, its validators and its
 * sink; and one attempt, an HTTP request whose status and headers decide what happens next.
 */
export class Download {
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

  /** One line for the task's log. */
  log(line: string): void {
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
      return verdict ?? await receiveBody(this, url, res, ac, why);
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
        this.log(
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

  async close(): Promise<void> {
    await this.sink?.close().catch(() => {});
    this.sink = null;
  }
}
