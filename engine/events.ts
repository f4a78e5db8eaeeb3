/**
 * What a build reports as it goes. The CLI turns these into a live view, plain CI lines, a JSON
 * summary or a trace; tests collect them.
 *
 * @module
 */

import type { Failure } from "./failure.ts";

/**
 * How a task ended: `ran` (its action executed), `cached` (outputs restored from a cache),
 * `fresh` (outputs already present and current), `failed`, or `skipped` (a dependency failed,
 * or the build stopped first).
 */
export type TaskStatus = "ran" | "cached" | "fresh" | "failed" | "skipped";

/** The result of one task in one build. */
export interface TaskOutcome {
  readonly id: string;
  readonly status: TaskStatus;
  readonly durationMs: number;
  readonly failure?: Failure;
  /** Why the task did not count as fresh (fingerprint diff lines), empty when fresh. */
  readonly reasons: readonly string[];
  /** Set when the result was deliberately not cached, with why. */
  readonly notCached?: string;
  /** Workspace log file, when the action ran or its log was restored. */
  readonly logPath?: string;
}

/** A span for `--profile` (Chrome trace events). */
export interface Span {
  readonly id: string;
  readonly phase: "check" | "restore" | "action" | "store";
  readonly startMs: number;
  readonly endMs: number;
}

/** Receives build progress. Every method is optional. */
export interface BuildReporter {
  /** `delegate`: the task is being built on another machine (see `delegator.ts`). */
  taskStarted?(id: string, what: "run" | "restore" | "delegate"): void;
  taskFinished?(outcome: TaskOutcome): void;
  /** What a running task is doing now (a download's progress), for a live view; not logged. */
  taskProgress?(id: string, text: string): void;
  warn?(message: string): void;
  span?(span: Span): void;
}
