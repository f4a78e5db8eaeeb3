/**
 * The measuring loop shared by every scenario: reset the state (untimed), run the whole process
 * (timed), check the result (untimed); warm-up runs first, then the median of the timed runs.
 *
 * @module
 */

import { describeSpec, type ProcessSpec, type TimedRun, timeProcess } from "./run_process.ts";
import { summarize, type Summary } from "./stats.ts";

/** How many runs to make. */
export interface RunPlan {
  /** Timed runs. */
  readonly runs: number;
  /** Untimed runs before them. */
  readonly warmup: number;
  /** When the first run takes longer than {@link slowMs}, make at most this many timed runs. */
  readonly slowRuns: number;
  readonly slowMs: number;
  /** A single run is killed after this long. */
  readonly timeoutMs: number;
}

/** Hooks around each run of one scenario. */
export interface RunHooks {
  /** Resets the state the scenario needs; not timed. */
  prepare(): void | Promise<void>;
  /** Checks the run's result; a problem description, or `null` when fine. Not timed. */
  verify?(run: TimedRun): string | null | Promise<string | null>;
}

/** Samples and summary of one scenario. */
export interface RunResult extends Summary {
  readonly samples: number[];
}

/** A run failed (non-zero exit, timeout, or a failed check). */
export class RunFailure extends Error {}

/** Runs `spec` once after `hooks.prepare`, checks it, and returns its wall-clock milliseconds. */
export async function runOnce(
  spec: ProcessSpec,
  hooks: RunHooks,
  timeoutMs: number,
): Promise<number> {
  await hooks.prepare();
  const r = await timeProcess(spec, timeoutMs);
  if (r.timedOut) {
    throw new RunFailure(`timed out after ${timeoutMs / 1000} s: ${describeSpec(spec)}`);
  }
  if (r.code !== 0) {
    throw new RunFailure(`exit code ${r.code}: ${describeSpec(spec)}\n${r.tail}`);
  }
  const problem = await hooks.verify?.(r);
  if (problem) throw new RunFailure(`wrong result: ${problem} after ${describeSpec(spec)}`);
  return r.ms;
}

/**
 * Counts the runs of one scenario: the first `plan.warmup` are discarded, then `plan.runs` are
 * kept (at most `plan.slowRuns` when the very first run took longer than `plan.slowMs`).
 */
export class RunSchedule {
  readonly samples: number[] = [];
  #runs: number;
  #warmupLeft: number;
  #first = true;
  readonly #plan: RunPlan;

  constructor(plan: RunPlan) {
    this.#plan = plan;
    this.#runs = plan.runs;
    this.#warmupLeft = plan.warmup;
  }

  /** Whether every wanted run has been made. */
  get done(): boolean {
    return this.#warmupLeft === 0 && this.samples.length >= this.#runs;
  }

  /** Records a run's milliseconds. */
  record(ms: number): void {
    if (this.#first && ms > this.#plan.slowMs) {
      this.#runs = Math.min(this.#runs, Math.max(1, this.#plan.slowRuns));
    }
    this.#first = false;
    if (this.#warmupLeft > 0) this.#warmupLeft--;
    else this.samples.push(ms);
  }

  /** Median, minimum and maximum of the timed runs. */
  result(): RunResult {
    return { ...summarize(this.samples), samples: [...this.samples] };
  }
}

/**
 * Measures one scenario of one command: warm-up runs, then timed runs, each preceded by
 * `hooks.prepare()` and followed by `hooks.verify()`.
 *
 * @throws {RunFailure} on the first failed run
 */
export async function measureRuns(
  spec: ProcessSpec,
  hooks: RunHooks,
  plan: RunPlan,
): Promise<RunResult> {
  const schedule = new RunSchedule(plan);
  while (!schedule.done) schedule.record(await runOnce(spec, hooks, plan.timeoutMs));
  return schedule.result();
}
