/**
 * The hybrid builder: for each task that must run, decides where (see `placement.ts`) and hands
 * the ones that cannot run well here to a {@link CloudBuilder}. It is the engine's
 * {@link Delegator}; the engine then restores the delegated results from the shared cache by key.
 *
 * Two things it does beyond asking placement:
 *
 * - Host facts are gathered once, on the first task that declares `needs` and must run, so a
 *   build that runs no VM task never boots the accelerator probe.
 * - Requests are batched: the packer steps of five distros become one workflow run. A run builds
 *   the build's targets that need the delegated tasks (the whole pipeline behind them), so the
 *   steps after a delegated one are usually found in the cache under the same keys; where tool
 *   versions make their keys differ here, they are asked for in a second, quick run (the cloud
 *   build restores its own results and stores them under the keys sent, see `alsoStoreAs`).
 *
 * @module
 */

import type { Delegator, TaskPlace } from "../engine/delegator.ts";
import { type Failure, failure } from "../engine/failure.ts";
import type { Graph } from "../engine/graph.ts";
import type { Task } from "../engine/task.ts";
import {
  type BuilderMode,
  type Placement,
  type PlacementHost,
  placementSuffix,
  placeTask,
} from "./placement.ts";

/** A machine elsewhere that builds tasks and leaves their results in the shared cache. */
export interface CloudBuilder {
  /** Shown in messages, e.g. `GitHub Actions (owner/repo)`. */
  readonly name: string;
  /**
   * Builds `targets` there; `keys` are the keys this machine expects for the delegated tasks.
   * Resolves when the run has finished, with its URL, or a failure. `progress` gets one line
   * on the run's state as it changes.
   */
  build(
    targets: readonly string[],
    keys: Readonly<Record<string, string>>,
    signal: AbortSignal,
    progress: (text: string) => void,
  ): Promise<{ url: string } | Failure>;
}

/** What the hybrid builder needs from the build. */
export interface HybridOptions {
  readonly graph: Pick<Graph, "tasks" | "deps" | "order">;
  /** The build's targets (empty: every task). */
  readonly targets: readonly string[];
  readonly mode: BuilderMode;
  /** Null when no cloud builder is configured. */
  readonly cloud: CloudBuilder | null;
  /** What to configure for one, for messages. */
  readonly cloudHint?: string;
  /** The host facts placement reads; called at most once. */
  readonly facts: () => Promise<PlacementHost>;
  readonly warn: (message: string) => void;
  /** A line of information (a run's URL). */
  readonly note: (message: string) => void;
  /** A delegated task's progress (the run's state), for a live view. */
  readonly progress?: (id: string, text: string) => void;
  /** How long requests are gathered into one run (default 250 ms). */
  readonly batchMs?: number;
}

interface Request {
  readonly task: Task;
  readonly key: string;
  readonly done: (r: Failure | null) => void;
}

/** The engine's delegator for `--builder auto|local|cloud`. */
export class HybridDelegator implements Delegator {
  readonly #o: HybridOptions;
  #facts: Promise<PlacementHost> | undefined;
  readonly #placed = new Map<string, Promise<Placement | Failure>>();
  #pending: Request[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dependents: Map<string, string[]> | undefined;

  constructor(o: HybridOptions) {
    this.#o = o;
  }

  /** Where `task` would run, with why (for `--dry-run`). */
  placement(task: Task): Promise<Placement | Failure> {
    let p = this.#placed.get(task.id);
    if (!p) {
      const needs = task.needs;
      const declared = needs &&
        (needs.vm || needs.tools?.length || needs.memoryMiB || needs.diskMiB);
      p = declared
        ? (this.#facts ??= this.#o.facts()).then((host) =>
          placeTask(task, host, this.#o.mode, {
            cloudAvailable: this.#o.cloud !== null,
            cloudHint: this.#o.cloudHint,
          })
        )
        : Promise.resolve({ task: task.id, where: "local", why: "", declared: false });
      this.#placed.set(task.id, p);
    }
    return p;
  }

  async place(task: Task): Promise<TaskPlace> {
    const p = await this.placement(task);
    if ("reason" in p) return p;
    if (p.where === "local-slow") {
      this.#o.warn(`Task "${task.id}" runs here under software emulation${placementSuffix(p)}`);
    }
    return p.where === "delegate" ? "elsewhere" : "here";
  }

  build(task: Task, key: string, signal: AbortSignal): Promise<Failure | null> {
    const cloud = this.#o.cloud;
    // place() says "elsewhere" only when a cloud builder is configured.
    if (!cloud) throw new Error(`HybridDelegator.build("${task.id}") without a cloud builder`);
    return new Promise((done) => {
      this.#pending.push({ task, key, done });
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        const batch = this.#pending;
        this.#pending = [];
        void this.#run(cloud, batch, signal);
      }, this.#o.batchMs ?? 250);
    });
  }

  async #run(cloud: CloudBuilder, batch: Request[], signal: AbortSignal): Promise<void> {
    const keys = Object.fromEntries(batch.map((r) => [r.task.id, r.key]));
    const targets = this.dispatchTargets(batch.map((r) => r.task.id));
    this.#o.note(
      `Building ${targets.join(", ")} on ${cloud.name} (${batch.length} task${
        batch.length === 1 ? "" : "s"
      } cannot run here)`,
    );
    let r: { url: string } | Failure;
    try {
      r = await cloud.build(targets, keys, signal, (text) => {
        for (const q of batch) this.#o.progress?.(q.task.id, text);
      });
    } catch (e) {
      r = failure("delegation-failed", `Delegating to ${cloud.name} failed: ${e}`);
    }
    if (!("reason" in r)) this.#o.note(`${cloud.name} finished: ${r.url}`);
    for (const q of batch) q.done("reason" in r ? r : null);
  }

  /**
   * What a run builds for delegated tasks `ids`: the build's targets that depend on them (so
   * the cloud build also makes what follows them), or, when the build targets everything, the
   * last tasks that depend on them.
   */
  dispatchTargets(ids: readonly string[]): string[] {
    const below = new Set<string>();
    const visit = (id: string) => {
      if (below.has(id)) return;
      below.add(id);
      for (const d of this.#dependentsOf(id)) visit(d);
    };
    for (const id of ids) visit(id);
    const wanted = this.#o.targets.length
      ? this.#o.targets.filter((t) => below.has(t))
      : [...below].filter((id) => this.#dependentsOf(id).length === 0);
    const order = new Map(this.#o.graph.order.map((id, i) => [id, i]));
    return (wanted.length ? wanted : [...ids]).sort((a, b) => order.get(a)! - order.get(b)!);
  }

  #dependentsOf(id: string): string[] {
    if (!this.#dependents) {
      this.#dependents = new Map();
      for (const [t, deps] of this.#o.graph.deps) {
        for (const d of deps) {
          const list = this.#dependents.get(d) ?? [];
          list.push(t);
          this.#dependents.set(d, list);
        }
      }
    }
    return this.#dependents.get(id) ?? [];
  }
}
