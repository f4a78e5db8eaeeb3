/**
 * When a failed request is tried again: exponential backoff with jitter, the server's
 * `Retry-After`, and a sleep that an abort cuts short. Policy with no I/O of its own, shared by
 * the ISO download (`iso/fetch.ts`), the remote cache client (`remote/http_cache.ts`) and the
 * wait for a delegated GitHub Actions run (`builders/github/delegate.ts`).
 *
 * @module
 */

/** Exponential backoff: failure k waits about `baseMs * 2^(k-1)`, at most `maxMs`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Defaults: 1 s, 2 s, 4 s, ... up to 30 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

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
