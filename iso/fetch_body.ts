/**
 * Receiving one response body: read in large pieces, copied into the sink's batches, with an idle
 * timeout that drops a stalled connection. Kept apart from `fetch_attempt.ts`, which decides from
 * the status and headers whether a body is worth receiving, because this is the hot loop that
 * the throughput of a download depends on.
 *
 * @module
 */

import { formatBytes } from "./progress.ts";
import { LANDING, message, SinkError } from "./fetch_sink.ts";
import type { Download, Outcome } from "./fetch_attempt.ts";

/** The caller's `onProgress` threw: a bug to report, not a network error to retry. */
class CallerError extends Error {
  constructor(cause: unknown) {
    super("onProgress threw", { cause });
  }
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

/** Streams the body of `d`'s current attempt into its sink until it ends, breaks or stalls. */
export async function receiveBody(
  d: Download,
  url: string,
  res: Response,
  ac: AbortController,
  why: { timeout: string },
): Promise<Outcome> {
  const o = d.o;
  const sink = d.sink!;
  const total = d.total;
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
  d.offset = sink.size;
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
