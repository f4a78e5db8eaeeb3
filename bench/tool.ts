/**
 * What the benchmark needs to know about a build tool to run the synthetic graph with it.
 *
 * @module
 */

import type { ProcessSpec } from "./run_process.ts";

/** A build tool under test (kiln, make, ninja, deno task). */
export interface BuildTool {
  /** Short name used in tables, `--only`, and workspace folders (`bench/.work/<name>-<N>`). */
  readonly name: string;
  /**
   * Whether the tool keeps a content cache, so "delete every output" is a restore rather than a
   * full rebuild.
   */
  readonly restoresFromCache: boolean;
  /** Why the tool cannot be benchmarked here, or `null` when it can. */
  unavailable(): Promise<string | null>;
  /** One-line version string for the report. */
  version(): Promise<string>;
  /** Writes the tool's build description for an N-task graph into the workspace `dir`. */
  writeConfig(dir: string, n: number): void;
  /** The command that builds everything in `dir`. */
  buildCommand(dir: string, n: number): ProcessSpec;
  /** Forgets everything the tool remembers between builds (logs, state, caches). */
  clearState(dir: string, n: number): void;
}
