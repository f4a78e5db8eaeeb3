/**
 * One build: lock the workspace, load its state, walk the selected part of the DAG with the
 * executor, publish cache writes, save the state. Also the dry run (the plan, changing nothing).
 *
 * @module
 */

import type { BuildReporter, TaskOutcome, TaskStatus } from "./events.ts";
import { executeTask, type ExecutorContext, planTask, type TaskPlan } from "./executor.ts";
import { type Graph, selectTasks } from "./graph.ts";
import { lockWorkspace } from "./lock.ts";
import { outputDigests, type OutputManifest } from "./outputs.ts";
import type { ProcessRunner } from "./process.ts";
import { schedule } from "./scheduler.ts";
import { Semaphore } from "./semaphore.ts";
import { WorkspaceState } from "./state.ts";
import { removeIfExists } from "./fs_util.ts";
import { join, kilnDir } from "./path.ts";
import { logsDir } from "./run_action.ts";
import { writeStamp } from "./stamp.ts";
import { secretDigest } from "./fingerprint.ts";
import { statFile } from "./stat.ts";
import type { CacheStore } from "./store.ts";
import { ToolVersions } from "./tools.ts";
import type { Delegator } from "./delegator.ts";

/** The names in folder `dir` (empty when it does not exist). */
function listNames(dir: string): Set<string> {
  const names = new Set<string>();
  try {
    for (const e of Deno.readDirSync(dir)) names.add(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names;
}

/** Options for {@link runBuild} and {@link planBuild}. */
export interface BuildOptions {
  readonly targets: readonly string[];
  /** Processes running at once (`-j`); a runner that queues may admit more actions (see `ProcessRunner.prepare`). */
  readonly jobs: number;
  readonly keepGoing: boolean;
  readonly store: CacheStore;
  readonly runner: ProcessRunner;
  readonly reporter?: BuildReporter;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
  /** Env lookup for declared vars (default `Deno.env.get`). */
  readonly env?: (name: string) => string | undefined;
  /** Monotonic milliseconds (default `performance.now`). */
  readonly now?: () => number;
  /** Builds some tasks on another machine (see `delegator.ts`). */
  readonly delegator?: Delegator;
  /**
   * Task id -> another key to store its result under as well. A build made for a delegating
   * machine gets the keys that machine computed: where tool versions differ (packer on a laptop
   * and on a CI runner), its keys differ from this build's, and it pulls results by its own.
   */
  readonly alsoStoreAs?: ReadonlyMap<string, string>;
}

/** The result of a build. */
export interface BuildSummary {
  readonly outcomes: TaskOutcome[];
  readonly counts: Record<TaskStatus, number>;
  readonly interrupted: boolean;
  readonly durationMs: number;
}

function context(
  graph: Graph,
  state: WorkspaceState,
  o: BuildOptions,
  signal: AbortSignal,
  reporter: BuildReporter = o.reporter ?? {},
  jobDepth = 1,
) {
  const outputs = new Map<string, OutputManifest>();
  let oldLogs: Set<string> | undefined;
  const x: ExecutorContext = {
    graph,
    state,
    digests: state.digests,
    tools: new ToolVersions(state),
    env: o.env ?? ((n) => Deno.env.get(n)),
    depOutputs: (id) => {
      const m = outputs.get(id);
      return m && outputDigests(m);
    },
    store: o.store,
    runner: o.runner,
    reporter,
    jobs: new Semaphore(Math.max(1, o.jobs) * jobDepth),
    pools: new Map(Object.entries(graph.pools).map(([k, v]) => [k, new Semaphore(v)])),
    signal,
    outputs,
    now: o.now ?? (() => performance.now()),
    tmpdir: join(kilnDir(graph.root), "tmp", `build-${Deno.pid}`),
    oldLogs: () => (oldLogs ??= listNames(logsDir(graph.root))),
    dirs: new Map(),
    modules: new Map(),
    delegator: o.delegator,
  };
  return x;
}

/**
 * Builds `targets` (all tasks when empty) in `graph`'s workspace.
 *
 * @example
 * ```ts
 * const summary = await runBuild(graph, {
 *   targets: [], jobs: 2, keepGoing: false,
 *   store: new LocalStore(defaultCacheDir()), runner: new LocalProcessRunner(),
 * });
 * ```
 */
export async function runBuild(graph: Graph, o: BuildOptions): Promise<BuildSummary> {
  const t0 = performance.now();
  const ids = selectTasks(graph, o.targets);
  const signal = o.signal ?? new AbortController().signal;
  using _lock = await lockWorkspace(
    graph.root,
    (holder) => o.reporter?.warn?.(`Waiting for ${holder}, which is building this workspace`),
  );
  const state = WorkspaceState.load(graph.root);
  const outcomes = new Map<string, TaskOutcome>();
  let flushing = Promise.resolve();
  const flush = () => (flushing = flushing.then(() => o.store.flush()));
  // Finished tasks' cache writes are published every second while actions run. The timer starts
  // with the first action: a build that only checks or restores ends sooner than a second, and
  // Deno's first timer costs several milliseconds (it loads Node's timers).
  let ticker: ReturnType<typeof setInterval> | undefined;
  const reporter = o.reporter ?? {};
  // -j limits processes; a runner that queues a next command per process admits more actions.
  const depth = Math.max(1, o.runner.prepare?.(Math.max(1, o.jobs)) ?? 1);
  const x = context(graph, state, o, signal, {
    taskStarted(id, what) {
      if (what === "run") ticker ??= setInterval(() => flush(), 1000);
      reporter.taskStarted?.(id, what);
    },
    taskFinished: (outcome) => reporter.taskFinished?.(outcome),
    taskProgress: (id, text) => reporter.taskProgress?.(id, text),
    warn: (message) => reporter.warn?.(message),
    span: reporter.span && ((sp) => reporter.span!(sp)),
  }, depth);
  // Every selected task's fingerprint needs its tools' versions: ask them all now, in parallel,
  // so that a step deep in a pipeline (packer, after the ISO steps) finds them ready instead of
  // starting processes on the critical path. Versions are memoized and never reject.
  for (const id of ids) for (const t of graph.tasks.get(id)!.tools ?? []) void x.tools.version(t);
  try {
    const results = await schedule(ids, graph.deps, async (id) => {
      const outcome = await executeTask(graph.tasks.get(id)!, x);
      outcomes.set(id, outcome);
      return outcome.status === "failed" || outcome.status === "skipped" ? "failed" : "ok";
    }, { keepGoing: o.keepGoing, signal });
    for (const [id, r] of results) {
      if (r === "skipped" && !outcomes.has(id)) {
        const o2: TaskOutcome = { id, status: "skipped", durationMs: 0, reasons: [] };
        outcomes.set(id, o2);
        o.reporter?.taskFinished?.(o2);
      }
    }
  } finally {
    if (ticker !== undefined) clearInterval(ticker); // an unset one would cost a timer load
    await o.runner.release?.();
    removeIfExists(x.tmpdir);
    await flush();
    if (o.alsoStoreAs && !signal.aborted) { // entries read back once the build's are published
      await storeAliases(o.alsoStoreAs, state, o, outcomes);
      await flush();
    }
    state.save();
  }
  const list = ids.map((id) => outcomes.get(id)!);
  const counts = { ran: 0, cached: 0, fresh: 0, failed: 0, skipped: 0 };
  for (const oc of list) counts[oc.status]++;
  const complete = counts.failed + counts.skipped === 0 && !signal.aborted &&
    list.every((oc) => !oc.notCached);
  if (complete && graph.configId !== undefined) stampBuild(graph, x, o.targets, ids);
  return {
    outcomes: list,
    counts,
    interrupted: signal.aborted,
    durationMs: performance.now() - t0,
  };
}

/** Stores each finished task's entry under its alias key too (see `alsoStoreAs`). */
async function storeAliases(
  aliases: ReadonlyMap<string, string>,
  state: WorkspaceState,
  o: BuildOptions,
  outcomes: ReadonlyMap<string, TaskOutcome>,
): Promise<void> {
  for (const [id, alias] of aliases) {
    const status = outcomes.get(id)?.status;
    if (status !== "ran" && status !== "cached" && status !== "fresh") continue;
    const key = state.get(id)?.key;
    if (!key || key === alias) continue;
    const entry = await o.store.getEntry(key);
    if (entry) await o.store.putEntry({ ...entry, key: alias });
    else {
      o.reporter?.warn?.(
        `Task "${id}" has no cache entry to store under the expected key ${alias.slice(0, 12)} ` +
          `(its result was not cached); the machine that asked for it will not find it`,
      );
    }
  }
}

/** Writes the build stamp after a complete build (see `stamp.ts`). */
function stampBuild(
  graph: Graph,
  x: ExecutorContext,
  targets: readonly string[],
  ids: readonly string[],
): void {
  const paths = new Map<string, string>();
  for (const [rel, sig] of x.digests.consulted()) {
    paths.set(rel.startsWith("/") ? rel : join(graph.root, rel), sig);
  }
  for (const [dir, sig] of x.dirs) paths.set(dir, sig);
  for (const [bin, sig] of x.tools.binaries) paths.set(bin, sig);
  for (const f of graph.configFiles ?? []) paths.set(f, statFile(f)?.sig ?? "");
  const env: Record<string, string | null> = {};
  const secrets: Record<string, string | null> = {};
  for (const id of ids) {
    const task = graph.tasks.get(id)!;
    for (const name of task.env ?? []) env[name] = x.env(name) ?? null;
    for (const name of task.secretEnv ?? []) secrets[name] = secretDigest(x.env(name));
    for (const s of x.outputs.get(id)?.symlinks ?? []) {
      const p = join(graph.root, s.path);
      paths.set(p, statFile(p)?.sig ?? "");
    }
  }
  if (ids.some((id) => (graph.tasks.get(id)!.tools ?? []).length > 0)) {
    env.PATH = x.env("PATH") ?? null; // which binary a tool name means
  }
  writeStamp(graph.root, { config: graph.configId!, targets }, env, paths, ids, secrets);
}

/** One line of the dry-run plan. */
export interface PlannedTask {
  readonly id: string;
  readonly plan: TaskPlan;
}

/**
 * What {@link runBuild} would do, without running or changing anything: each task is fresh,
 * restored from cache, or run, with the reasons. Dependents of a task that would run are
 * planned to run, since its new outputs are not known yet.
 */
export async function planBuild(graph: Graph, o: BuildOptions): Promise<PlannedTask[]> {
  const ids = selectTasks(graph, o.targets);
  const state = WorkspaceState.load(graph.root);
  const x = context(graph, state, o, new AbortController().signal);
  const out: PlannedTask[] = [];
  for (const id of ids) {
    const plan = await planTask(graph.tasks.get(id)!, x);
    if (plan.decision === "fresh") x.outputs.set(id, state.get(id)!.outputs!);
    else if (plan.decision === "restore") x.outputs.set(id, plan.entry!.outputs);
    out.push({ id, plan });
  }
  return out;
}
