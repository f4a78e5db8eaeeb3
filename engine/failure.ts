/**
 * Expected failures are values, not exceptions: a task that fails returns a {@link Failure} with a
 * kebab-case reason so callers (CLI, CI summaries, tests) can branch on it. Exceptions are for bugs.
 *
 * @module
 */

/** Reasons a task can fail. Later pipelines add their own (e.g. `iso-signature-invalid`). */
export type FailureReason =
  | "action-failed"
  | "missing-output"
  | "missing-input"
  | "interrupted"
  | "tool-missing"
  | (string & { readonly __reason?: never });

/** An expected failure with a one-line, sentence-case message (no final period). */
export interface Failure {
  readonly reason: FailureReason;
  readonly message: string;
}

/** Builds a {@link Failure}. */
export function failure(reason: FailureReason, message: string): Failure {
  return { reason, message };
}

/**
 * Bad usage or bad configuration: the CLI prints the message on one line and exits 2.
 * Thrown because it aborts the whole command before any task runs.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
