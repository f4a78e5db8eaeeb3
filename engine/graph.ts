/**
 * The task DAG: validation (ids, paths, unknown dependencies, cycles, output ownership) and
 * topological order. Every problem is a one-line {@link ConfigError}; the CLI exits 2 on it.
 *
 * @module
 */

import { ConfigError } from "./failure.ts";
import { isGlob } from "./glob.ts";
import { normalizeRel } from "./path.ts";
import { isValidTaskId, type Task, type TaskSet } from "./task.ts";

/** A validated task set, ready to schedule. */
export interface Graph {
  readonly root: string;
  readonly pools: Readonly<Record<string, number>>;
  readonly tasks: ReadonlyMap<string, Task>;
  /** Every task id, dependencies before dependents. */
  readonly order: readonly string[];
  /** Declared plus implicit dependencies (an input inside another task's output). */
  readonly deps: ReadonlyMap<string, readonly string[]>;
  /** Workspace-relative output path -> owning task id. */
  readonly outputOwner: ReadonlyMap<string, string>;
  /** See {@link TaskSet.configId}. */
  readonly configId?: string;
  /** See {@link TaskSet.configFiles}. */
  readonly configFiles?: readonly string[];
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) out.push(p.slice(0, i));
  return out;
}

function normalizeTask(t: Task): Task {
  if (!isValidTaskId(t.id)) {
    throw new ConfigError(
      `Task id "${t.id}" is invalid; use letters, digits and "._:/-", starting with a letter or digit`,
    );
  }
  const norm = (p: string, what: string) => {
    const n = normalizeRel(p);
    if (n === null) {
      throw new ConfigError(
        `Task "${t.id}" declares ${what} "${p}" outside the workspace; use a path relative to the workspace root`,
      );
    }
    return n;
  };
  return {
    ...t,
    inputs: (t.inputs ?? []).map((p) => norm(p, "input")),
    outputs: [...new Set((t.outputs ?? []).map((p) => norm(p, "output")))],
    deps: [...new Set(t.deps ?? [])],
  };
}

function findCycle(ids: string[], deps: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 1);
    stack.push(id);
    for (const d of deps.get(id)!) {
      const s = state.get(d);
      if (s === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (s === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(id, 2);
    return null;
  };
  for (const id of ids) {
    if (!state.has(id)) {
      const c = visit(id);
      if (c) return c;
    }
  }
  return null;
}

/**
 * Validates a task set and orders it.
 *
 * @throws {ConfigError} on a bad id or path, a duplicate task, an unknown dependency or pool, a
 *   cycle (printed `a -> b -> a`), two tasks owning one output, or an output nested in another's.
 */
export function buildGraph(set: TaskSet): Graph {
  const tasks = new Map<string, Task>();
  for (const raw of set.tasks) {
    const t = normalizeTask(raw);
    if (tasks.has(t.id)) throw new ConfigError(`Task "${t.id}" is declared twice; rename one`);
    if (t.pool !== undefined && !(t.pool in set.pools)) {
      throw new ConfigError(
        `Task "${t.id}" uses unknown pool "${t.pool}"; declare it under pools or remove it`,
      );
    }
    tasks.set(t.id, t);
  }
  for (const [name, size] of Object.entries(set.pools)) {
    if (!Number.isInteger(size) || size < 1) {
      throw new ConfigError(`Pool "${name}" has size ${size}; use a whole number of at least 1`);
    }
  }

  const outputOwner = new Map<string, string>();
  for (const t of tasks.values()) {
    for (const o of t.outputs!) {
      const other = outputOwner.get(o);
      if (other !== undefined) {
        throw new ConfigError(
          `Tasks "${other}" and "${t.id}" both declare output "${o}"; give each output one owner`,
        );
      }
      outputOwner.set(o, t.id);
    }
  }
  for (const [o, id] of outputOwner) {
    for (const a of ancestors(o)) {
      const owner = outputOwner.get(a);
      if (owner !== undefined && owner !== id) {
        throw new ConfigError(
          `Output "${o}" of task "${id}" lies inside output "${a}" of task "${owner}"; move it out`,
        );
      }
    }
  }

  const deps = new Map<string, string[]>();
  for (const t of tasks.values()) {
    const ds = [...t.deps!];
    for (const d of ds) {
      if (!tasks.has(d)) {
        throw new ConfigError(
          `Task "${t.id}" depends on unknown task "${d}"; declare "${d}" or remove it from deps`,
        );
      }
    }
    for (const input of t.inputs!) {
      if (isGlob(input)) continue;
      for (const p of [input, ...ancestors(input)]) {
        const owner = outputOwner.get(p);
        if (owner !== undefined && owner !== t.id && !ds.includes(owner)) ds.push(owner);
      }
    }
    deps.set(t.id, ds);
  }

  const ids = [...tasks.keys()];
  const cycle = findCycle(ids, deps);
  if (cycle) {
    throw new ConfigError(
      `Dependency cycle: ${cycle.join(" -> ")}; remove one of these dependencies`,
    );
  }

  // Kahn's algorithm, keeping declaration order among ready tasks for stable output.
  const indegree = new Map(ids.map((id) => [id, deps.get(id)!.length]));
  const dependents = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const [id, ds] of deps) for (const d of ds) dependents.get(d)!.push(id);
  const order: string[] = ids.filter((id) => indegree.get(id) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const n of dependents.get(order[i])!) {
      const k = indegree.get(n)! - 1;
      indegree.set(n, k);
      if (k === 0) order.push(n);
    }
  }
  return {
    root: set.root,
    pools: set.pools,
    tasks,
    order,
    deps,
    outputOwner,
    configId: set.configId,
    configFiles: set.configFiles,
  };
}

/**
 * What validating a task set found, small enough to cache next to it: the order and the full
 * dependency lists (implicit ones included). See {@link graphFromShape}.
 */
export interface GraphShape {
  readonly order: readonly string[];
  readonly deps: Readonly<Record<string, readonly string[]>>;
}

/** The cacheable part of `graph`. */
export function graphShape(graph: Graph): GraphShape {
  return { order: graph.order, deps: Object.fromEntries(graph.deps) };
}

/**
 * Rebuilds the graph of a task set that {@link buildGraph} already accepted, given its tasks as
 * that graph holds them (normalized) and its {@link graphShape}: linear, with no path or cycle
 * analysis. The shape is still checked to be a topological order of exactly these tasks whose
 * dependencies exist; `null` when it is not (a stale or damaged cache), and the caller validates
 * from scratch.
 */
export function graphFromShape(set: TaskSet, shape: GraphShape): Graph | null {
  const tasks = new Map<string, Task>();
  for (const t of set.tasks) tasks.set(t.id, t);
  if (tasks.size !== set.tasks.length || shape.order.length !== tasks.size) return null;
  const position = new Map<string, number>();
  const deps = new Map<string, readonly string[]>();
  for (const id of shape.order) {
    const ds = shape.deps[id];
    if (!tasks.has(id) || position.has(id) || !Array.isArray(ds)) return null;
    for (const d of ds) if (!position.has(d)) return null; // unknown, or not earlier
    for (const d of tasks.get(id)!.deps ?? []) if (!ds.includes(d)) return null;
    position.set(id, position.size);
    deps.set(id, ds);
  }
  const outputOwner = new Map<string, string>();
  for (const t of tasks.values()) for (const o of t.outputs ?? []) outputOwner.set(o, t.id);
  return {
    root: set.root,
    pools: set.pools,
    tasks,
    order: shape.order,
    deps,
    outputOwner,
    configId: set.configId,
    configFiles: set.configFiles,
  };
}

/**
 * The tasks needed to build `targets` (all tasks when empty), in topological order.
 *
 * @throws {ConfigError} when a target is not a task.
 */
export function selectTasks(graph: Graph, targets: readonly string[]): string[] {
  if (targets.length === 0) return [...graph.order];
  const need = new Set<string>();
  const stack = [...targets];
  for (const t of targets) {
    if (!graph.tasks.has(t)) {
      throw new ConfigError(`Unknown task "${t}"; run "kiln list" to see the tasks`);
    }
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (need.has(id)) continue;
    need.add(id);
    stack.push(...graph.deps.get(id)!);
  }
  return graph.order.filter((id) => need.has(id));
}
