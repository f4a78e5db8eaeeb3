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
 * hashed by a worker (`fetch_sink_worker.ts`) in 8 MiB batches and written on Deno's I/O
 * thread while the next batch is hashed, so the main thread only reads the socket. On loopback
 * that keeps up with `curl -o`, which neither hashes nor keeps a partial (bench/fetch_throughput.ts);
 * on a busy 2-core machine the ~1.3 s of CPU that hashing 2 GiB needs shows as a gap.
 *
 * The parts: `engine/retry.ts` (backoff), `fetch_attempt.ts` (one request and its verdict),
 * `fetch_body.ts` (receiving a body), `fetch_sink.ts` and `fetch_sink_worker.ts` (hashing and
 * writing). This module holds the loop over mirrors and retries.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { type FetchProgress, formatBytes } from "./progress.ts";
import {
  abortableSleep,
  backoffDelay,
  type BackoffPolicy,
  DEFAULT_BACKOFF,
} from "../engine/retry.ts";
import { Download } from "./fetch_attempt.ts";
import { SinkError } from "./fetch_sink.ts";

export {
  abortableSleep,
  backoffDelay,
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  retryAfterMs,
} from "../engine/retry.ts";

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

/** Tries each URL in turn, with retries; see the module documentation. */
async function runDownload(d: Download): Promise<FetchedFile | Failure> {
  const o = d.o;
  const retries = o.retries ?? 4;
  const sleep = o.sleep ?? abortableSleep;
  const backoff = o.backoff ?? DEFAULT_BACKOFF;
  const tried: string[] = [];
  let mismatch: string | null = null;
  if (d.offset > 0 && d.offset === o.expectedSize && o.expectedSha256) {
    // An earlier run received every byte but stopped before the rename.
    const r = await d.complete(d.validators?.url ?? o.urls[0]);
    if (!("problem" in r)) return r;
    await d.discard();
  }
  for (const [i, url] of o.urls.entries()) {
    if (!/^https?:$/.test(URL.parse(url)?.protocol ?? "")) {
      tried.push(`"${url}" (not an http or https URL)`);
      continue;
    }
    if (i > 0) d.log(`Trying mirror "${url}" for "${d.name}"`);
    let failures = 0;
    let restarts = 0;
    let retriedWhole = false;
    for (;;) {
      if (o.signal?.aborted) return d.interrupted();
      const before = d.offset;
      const out = await d.attempt(url);
      if (out.kind === "interrupted") return d.interrupted();
      if (out.kind === "complete") {
        const r = await d.complete(url);
        if (!("problem" in r)) return r;
        const spliced = d.spliced;
        await d.discard();
        if (spliced && !retriedWhole) {
          retriedWhole = true;
          d.log(
            `"${d.name}" from "${url}" ${r.problem} after a resume; downloading it whole`,
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
        await d.discard();
        if (++restarts > retries) {
          tried.push(`"${url}" (${out.error})`);
          break;
        }
        d.log(`"${url}": ${out.error}; restarting "${d.name}" from zero`);
        continue;
      }
      if (d.offset > before) failures = 0; // progress: a flaky link is not a dead one
      if (++failures > retries) {
        tried.push(`"${url}" (${out.error}; ${failures} attempts)`);
        break;
      }
      const wait = Math.min(
        backoff.maxMs,
        Math.max(backoffDelay(failures, backoff, o.random ?? Math.random), out.waitMs ?? 0),
      );
      d.log(
        `"${url}": ${out.error}; retry ${failures} of ${retries} in ${(wait / 1000).toFixed(1)} s`,
      );
      await sleep(wait, o.signal);
    }
  }
  if (mismatch) {
    return failure(
      "iso-checksum-mismatch",
      `Downloaded "${d.name}" does not match: ${mismatch}; check the pinned digest and the mirrors`,
    );
  }
  const kept = d.offset > 0 ? ` (${formatBytes(d.offset)} kept to resume)` : "";
  return failure(
    "iso-fetch-failed",
    `Could not download "${d.name}" from ${
      tried.join(", ")
    }${kept}; check the URLs and the network, then run again`,
  );
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
    return await runDownload(d);
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
