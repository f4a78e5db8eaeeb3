/**
 * One benchmark result, as printed in the table and saved with `--json`.
 *
 * @module
 */

/** The median of a few whole-process runs of one tool in one scenario. */
export interface Measurement {
  /** Which part of the benchmark: the synthetic graph, SHA-256 throughput, or the 2 GiB restore. */
  readonly group: "graph" | "hash" | "big" | "demo" | "apt";
  readonly tool: string;
  /** Graph size (tasks); `null` outside the graph group. */
  readonly n: number | null;
  readonly scenario: string;
  /** Median wall-clock milliseconds; `NaN` when the scenario failed. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Every timed run, in order (warm-up runs excluded). */
  readonly samples: readonly number[];
  /** What the number means when it differs between tools, e.g. "full rebuild (no cache)". */
  readonly note?: string;
  /** Why the scenario produced no number. */
  readonly error?: string;
}

/** A failed scenario: no number, only the reason. */
export function failedMeasurement(
  base: Pick<Measurement, "group" | "tool" | "n" | "scenario" | "note">,
  error: string,
): Measurement {
  return { ...base, medianMs: NaN, minMs: NaN, maxMs: NaN, samples: [], error };
}
