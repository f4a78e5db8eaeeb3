/**
 * Walks the DAG: starts every task whose dependencies succeeded, as soon as they did. Limits on
 * parallelism (`-j`, pools) are applied by the executor around the action only, so fresh checks
 * and restores never wait behind running commands.
 *
 * @module
 */

/** What the scheduler learns of each task. */
export type NodeResult = "ok" | "failed" | "skipped";

/** Scheduler options. */
export interface ScheduleOptions {
  /** Keep starting independent tasks after a failure (`-k`). */
  readonly keepGoing: boolean;
  /** Stop starting tasks once aborted. */
  readonly signal: AbortSignal;
}

/**
 * Runs `run(id)` for each of `ids` (a dependency-closed set in topological order) once its
 * dependencies are `ok`. A task whose dependency failed or was skipped is `skipped`; after a
 * failure without `keepGoing`, or after an abort, tasks not yet started are `skipped`.
 *
 * @example
 * ```ts
 * const results = await schedule(["a", "b"], new Map([["a", []], ["b", ["a"]]]),
 *   async (id) => "ok", { keepGoing: false, signal: new AbortController().signal });
 * ```
 */
export function schedule(
  ids: readonly string[],
  deps: ReadonlyMap<string, readonly string[]>,
  run: (id: string) => Promise<"ok" | "failed">,
  opts: ScheduleOptions,
): Promise<Map<string, NodeResult>> {
  const results = new Map<string, NodeResult>();
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const id of ids) {
    const ds = deps.get(id) ?? [];
    waiting.set(id, ds.length);
    for (const d of ds) {
      let list = dependents.get(d);
      if (!list) dependents.set(d, list = []);
      list.push(id);
    }
  }
  let stopped = false;
  let running = 0;
  return new Promise((resolve, reject) => {
    const settle = (id: string, r: NodeResult) => {
      results.set(id, r);
      for (const n of dependents.get(id) ?? []) {
        if (results.has(n)) continue;
        if (r !== "ok") settle(n, "skipped");
        else {
          const left = waiting.get(n)! - 1;
          waiting.set(n, left);
          if (left === 0) start(n);
        }
      }
    };
    const start = (id: string) => {
      if (stopped || opts.signal.aborted) {
        settle(id, "skipped");
        return;
      }
      running++;
      run(id).then((r) => {
        running--;
        if (r === "failed" && !opts.keepGoing) stopped = true;
        settle(id, r);
        if (running === 0) done();
      }, reject);
    };
    const done = () => {
      if (results.size < ids.length && running === 0) {
        for (const id of ids) if (!results.has(id)) results.set(id, "skipped");
      }
      if (results.size === ids.length) resolve(results);
    };
    for (const id of ids) if (waiting.get(id) === 0) start(id);
    if (running === 0) done();
  });
}
