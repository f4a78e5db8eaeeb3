/**
 * Summary statistics of a few timed runs.
 *
 * @module
 */

/** Median, minimum and maximum of a set of samples (milliseconds). */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Summarizes samples; the median of an even count is the mean of the two middle values.
 *
 * @throws {RangeError} when `samples` is empty
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError("no samples");
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}
