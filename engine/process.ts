/**
 * The process-runner interface: how the engine starts commands. The local builder implements it
 * with real processes; tests can substitute an in-memory one.
 *
 * @module
 */

/** A command to run for a task. */
export interface ProcessRequest {
  /** `["sh", "-c", "..."]` for shell actions, any argv for TypeScript actions' `exec`. */
  readonly argv: readonly string[];
  readonly cwd: string;
  /** The complete environment: nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Where stdout and stderr go. */
  readonly logPath: string;
  /**
   * The log holds this run's output alone (else the output is appended). A run that writes
   * nothing then leaves no log file, and removes an old one: across 1,000 quiet tasks, empty
   * logs would cost 1,000 new files.
   */
  readonly truncateLog?: boolean;
  /** Aborting it kills the process and everything it started. */
  readonly signal: AbortSignal;
}

/** How a process ended. */
export interface ProcessResult {
  readonly code: number;
  readonly signal: string | null;
}

/** Starts processes. */
export interface ProcessRunner {
  run(req: ProcessRequest): Promise<ProcessResult>;
  /**
   * Called by a build before its first run: at most `parallelism` processes may run at once.
   * Returns how many requests the runner takes per process (default 1): a runner that queues
   * the next command beside the running one keeps its processes busy while kiln does its own
   * work, and the build then admits `parallelism × depth` actions.
   */
  prepare?(parallelism: number): number;
  /** Frees what the runner keeps between runs (a build is over); it stays usable after. */
  release?(): Promise<void>;
}
