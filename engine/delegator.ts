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

/** Where a task that must run does: here, elsewhere, or nowhere (a failure saying why). */
export type TaskPlace = "here" | "elsewhere" | Failure;

/**
 * Decides where tasks run and builds some elsewhere. `place()` is asked only for a task that is
 * neither fresh nor cached, so probing the host (booting a VM to test KVM) costs nothing in a
 * build that runs no VM task. `build()` returns once the result of `task` under `key` should be
 * in the build's store, or with why not.
 *
 * @example
 * ```ts
 * const delegator: Delegator = {
 *   place: (task) => Promise.resolve(task.needs?.vm ? "elsewhere" : "here"),
 *   build: (task, key, signal) => dispatchAndWait(task.id, key, signal),
 * };
 * await runBuild(graph, { ...options, delegator });
 * ```
 */
export interface Delegator {
  /** Where `task` runs; a failure fails the task (it can run neither here nor elsewhere). */
  place(task: Task): Promise<TaskPlace>;
  /** Has `task` built elsewhere under `key`; null once its entry should be in the store. */
  build(task: Task, key: string, signal: AbortSignal): Promise<Failure | null>;
}
