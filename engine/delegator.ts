/**
 * Tasks built on another machine. A builder that cannot run a task here (no working
 * virtualization for a VM task, or `--builder cloud`) hands it to a {@link Delegator}: the build
 * computes the task's key as always, the delegator has it built elsewhere under that key, and the
 * executor then restores the outputs from the store (a shared remote cache) by the same key,
 * verified like any cache hit. The engine knows nothing of where "elsewhere" is (GitHub
 * Actions, in `builders/github/`).
 *
 * @module
 */

import type { Failure } from "./failure.ts";
import type { Task } from "./task.ts";

/** The other machine did its work but its result is not in the store under the task's key. */
export const DELEGATION_NO_RESULT = "delegation-no-result";

/**
 * Builds tasks elsewhere. `build()` returns once the result of `task` under `key` should be in
 * the build's store, or with why not.
 *
 * @example
 * ```ts
 * const delegator: Delegator = {
 *   handles: (task) => task.needs?.vm !== undefined,
 *   build: (task, key, signal) => dispatchAndWait(task.id, key, signal),
 * };
 * await runBuild(graph, { ...options, delegator });
 * ```
 */
export interface Delegator {
  /** True when `task` is to be built elsewhere whenever it is not fresh and not cached. */
  handles(task: Task): boolean;
  /** Has `task` built elsewhere under `key`; null once its entry should be in the store. */
  build(task: Task, key: string, signal: AbortSignal): Promise<Failure | null>;
}
