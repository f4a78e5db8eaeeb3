/**
 * Where each task runs: here, here but slowly (a VM under software emulation), or on another
 * machine (the cloud builder). The decision reads the task's `needs` and the {@link HostFacts};
 * it does no I/O, so every branch is tested with made-up facts.
 *
 * The rules, by `--builder` mode:
 *
 * - A task that declares no `needs` always runs here, in every mode.
 * - `cloud`: every task with `needs` is delegated (an error when no cloud builder is configured).
 * - A task whose needs this host lacks (a tool, free memory or disk, a QEMU for its VM's
 *   architecture): `auto` delegates it when a cloud builder is configured, else it fails
 *   before anything runs; `local` fails (`builder-cannot-run`, naming the install command).
 * - A VM task where KVM (or HVF) runs guests of its architecture: here.
 * - A VM task with only software emulation (TCG): `local` runs it here, slowly, with a warning
 *   giving the slowdown the probe measured. `auto` delegates it when a cloud builder is
 *   configured, else runs it here slowly too. There is no "tolerable slowdown" threshold: the
 *   probe measures a kernel boot, while installers are CPU-bound and lose more, so a
 *   threshold on that figure would be false precision; a configured cloud builder is the
 *   user's statement that they prefer it.
 *
 * @module
 */

import { ConfigError, type Failure, failure } from "../engine/failure.ts";
import type { Task } from "../engine/task.ts";
import type { HostFacts, VirtFact } from "./host_facts.ts";
import { installHint } from "./install_hint.ts";

/** `--builder`: `auto` (default) decides per task; `local` never delegates; `cloud` always does. */
export type BuilderMode = "auto" | "local" | "cloud";

/** Every {@link BuilderMode}, in the order help lists them. */
export const BUILDER_MODES: readonly BuilderMode[] = ["auto", "local", "cloud"];

/**
 * Reads the `--builder` value; absent means `auto`. Throws a {@link ConfigError} (exit 2, one
 * line) for anything else.
 *
 * @example
 * ```ts
 * parseBuilderMode(undefined); // "auto"
 * parseBuilderMode("laptop"); // throws: Builder "laptop" is unknown: use --builder auto, local or cloud
 * ```
 */
export function parseBuilderMode(value: string | undefined): BuilderMode {
  if (value === undefined) return "auto";
  if ((BUILDER_MODES as readonly string[]).includes(value)) return value as BuilderMode;
  throw new ConfigError(
    `Builder ${JSON.stringify(value)} is unknown: use --builder auto, local or cloud`,
  );
}

/** Where a task runs. */
export type Where = "local" | "local-slow" | "delegate";

/** The decision for one task. */
export interface Placement {
  readonly task: string;
  readonly where: Where;
  /** Why, in a few words (shown by `--dry-run`). */
  readonly why: string;
  /** For `local-slow`: how much slower, e.g. `TCG ~8x slower`. */
  readonly slowdown?: string;
  /** False when the task declares no `needs` (it runs here whatever the host). */
  readonly declared: boolean;
}

/** The part of {@link HostFacts} placement reads. */
export type PlacementHost = Pick<HostFacts, "os" | "tools" | "memory" | "disk" | "virt">;

/** What placement knows of the cloud builder. */
export interface PlacementOptions {
  /** True when a cloud builder is configured (a GitHub repository, a token and a remote cache). */
  readonly cloudAvailable: boolean;
  /** What to do to configure one, for error messages; default a generic sentence. */
  readonly cloudHint?: string;
}

const DEFAULT_CLOUD_HINT = "configure a cloud builder (a GitHub repository, a token and a " +
  "remote cache)";

/**
 * Decides where `task` runs (see the module documentation for the rules). Fails with
 * `builder-cannot-run` when the host lacks what the task needs and it may not (or cannot) be
 * delegated, and `builder-unavailable` for `--builder cloud` without a cloud builder.
 *
 * Throws when the task needs a tool `host.tools` does not list: gather the facts with
 * `extraTools: neededTools(tasks)`.
 *
 * @example
 * ```ts
 * const p = placeTask(packer, facts, "auto", { cloudAvailable: false });
 * // { task: "image:demo:packer", where: "local-slow", why: "KVM unusable",
 * //   slowdown: "TCG ~2x slower", declared: true }
 * ```
 */
export function placeTask(
  task: Task,
  host: PlacementHost,
  mode: BuilderMode,
  opts: PlacementOptions,
): Placement | Failure {
  const needs = task.needs;
  const id = task.id;
  const place = (where: Where, why: string, slowdown?: string): Placement => ({
    task: id,
    where,
    why,
    ...(slowdown ? { slowdown } : {}),
    declared: true,
  });
  if (!needs || (!needs.vm && !needs.tools?.length && !needs.memoryMiB && !needs.diskMiB)) {
    return { task: id, where: "local", why: "needs nothing of the host", declared: false };
  }
  const cloudHint = opts.cloudHint ?? DEFAULT_CLOUD_HINT;
  if (mode === "cloud") {
    return opts.cloudAvailable ? place("delegate", "--builder cloud") : failure(
      "builder-unavailable",
      `Task "${id}" cannot be delegated with --builder cloud: no cloud builder is configured; ` +
        `${cloudHint}, or use --builder auto`,
    );
  }

  const lacks: string[] = [];
  const install: string[] = [];
  for (const name of needs.tools ?? []) {
    const t = host.tools[name];
    if (!t) {
      throw new Error(`placeTask: tool "${name}" of task "${id}" was not in the host facts`);
    }
    if (!t.path) {
      lacks.push(`tool "${name}"`);
      install.push(name);
    }
  }
  const virt: VirtFact | undefined = needs.vm ? host.virt[needs.vm] : undefined;
  if (needs.vm && !virt?.accelerator) {
    const qemu = `qemu-system-${needs.vm}`;
    lacks.push(`an ${needs.vm} VM (${virt?.why ?? "not probed"})`);
    if (!host.tools[qemu]?.path && !install.includes(qemu)) install.push(qemu);
  }
  if (needs.memoryMiB && host.memory && host.memory.availableMiB < needs.memoryMiB) {
    lacks.push(`${needs.memoryMiB} MiB of free memory (${host.memory.availableMiB} MiB available)`);
  }
  if (needs.diskMiB && host.disk && host.disk.freeMiB < needs.diskMiB) {
    lacks.push(`${needs.diskMiB} MiB of free disk (${host.disk.freeMiB} MiB free)`);
  }

  if (lacks.length) {
    if (mode === "auto" && opts.cloudAvailable) {
      return place("delegate", `this host lacks ${joinAnd(lacks)}`);
    }
    const hint = installHint(install, host.os);
    const fixes = [
      ...(hint.command ? [`run "${hint.command}"`] : []),
      ...(hint.unknown.length ? [`install ${joinAnd(hint.unknown.map((n) => `"${n}"`))}`] : []),
      mode === "local" ? "use --builder auto with a cloud builder" : cloudHint,
    ];
    return failure(
      "builder-cannot-run",
      `Task "${id}" cannot run on this host${
        mode === "local" ? " (--builder local)" : ""
      }: it needs ${joinAnd(lacks)}; ${fixes.join(", or ")}`,
    );
  }

  if (!virt) return place("local", "this host has what it needs");
  if (virt.accelerator !== "tcg") {
    return place("local", `${virt.accelerator!.toUpperCase()} runs ${virt.guestArch} guests`);
  }
  const why = emulationWhy(virt);
  const slowdown = virt.slowdownFactor
    ? `TCG ~${virt.slowdownFactor}x slower`
    : "TCG, slowdown not measured";
  if (mode === "auto" && opts.cloudAvailable) {
    return place("delegate", `${why}, ${slowdown} here; a cloud builder is configured`);
  }
  return place("local-slow", why, slowdown);
}

/** Why a VM would be emulated, in a few words. */
function emulationWhy(virt: VirtFact): string {
  if (virt.kvm === "unusable") return "KVM unusable";
  if (virt.kvm === "absent") return "no KVM";
  return `no hardware virtualization for ${virt.guestArch} guests`;
}

/** Placement of a whole build. */
export interface PlacementPlan {
  /** Task id -> decision, for every task that could be placed, in the given order. */
  readonly placements: ReadonlyMap<string, Placement>;
  /** One per task that cannot run anywhere allowed; each message names its task. */
  readonly failures: readonly Failure[];
  /**
   * What to tell the user before building (one line each, sentence case): which tasks run
   * under software emulation, with the probe's measured slowdown.
   */
  readonly warnings: readonly string[];
}

/**
 * Places every task of a build. The build should stop before running anything when
 * `failures` is not empty, and print `warnings`.
 *
 * @example
 * ```ts
 * const facts = await gatherHostFacts({ extraTools: neededTools(tasks) });
 * const plan = placeTasks(tasks, facts, parseBuilderMode(flags.builder), { cloudAvailable });
 * for (const w of plan.warnings) console.warn(`warning: ${w}`);
 * ```
 */
export function placeTasks(
  tasks: Iterable<Task>,
  host: PlacementHost,
  mode: BuilderMode,
  opts: PlacementOptions,
): PlacementPlan {
  const placements = new Map<string, Placement>();
  const failures: Failure[] = [];
  const slow = new Map<string, { tasks: string[]; virt: VirtFact; why: string }>();
  for (const t of tasks) {
    const p = placeTask(t, host, mode, opts);
    if ("reason" in p) {
      failures.push(p);
      continue;
    }
    placements.set(t.id, p);
    if (p.where === "local-slow" && t.needs?.vm) {
      const virt = host.virt[t.needs.vm]!;
      const group = slow.get(virt.guestArch) ?? { tasks: [], virt, why: p.why };
      group.tasks.push(t.id);
      slow.set(virt.guestArch, group);
    }
  }
  const warnings = [...slow.values()].map(({ tasks: ids, virt, why }) =>
    `${ids.length === 1 ? "Task" : "Tasks"} ${ids.map((i) => `"${i}"`).join(", ")} ` +
    `${ids.length === 1 ? "runs its" : "run their"} ${virt.guestArch} VM under software ` +
    `emulation (${why}): ${virt.slowdown ?? "slowdown not measured"}`
  );
  return { placements, failures, warnings };
}

/**
 * Every tool the tasks' `needs` name: pass them to `gatherHostFacts({ extraTools })` so that
 * {@link placeTask} knows each one.
 */
export function neededTools(tasks: Iterable<Task>): string[] {
  const out = new Set<string>();
  for (const t of tasks) for (const name of t.needs?.tools ?? []) out.add(name);
  return [...out].sort();
}

/**
 * The `--dry-run` line's suffix for a placement: empty for a task without `needs` (so the
 * usual lines do not change), else ` (<where>: <why>[, <slowdown>])`.
 *
 * @example
 * ```ts
 * `image:demo:packer: would run${placementSuffix(p)}`;
 * // "image:demo:packer: would run (local-slow: KVM unusable, TCG ~8x slower)"
 * ```
 */
export function placementSuffix(p: Placement): string {
  if (!p.declared) return "";
  return ` (${p.where}: ${p.why}${p.slowdown ? `, ${p.slowdown}` : ""})`;
}

function joinAnd(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
