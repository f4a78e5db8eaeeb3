/**
 * Task declarations: what a pipeline hands the engine.
 *
 * A task is pure data plus an action. The engine derives its cache key from the data (see
 * `fingerprint.ts`), so everything that can change a task's outputs must be declared here.
 *
 * @module
 */

import type { Failure } from "./failure.ts";

/** JSON-compatible value, used for task parameters that enter the key. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** What a TypeScript action receives: where to work, and a log to write to. */
export interface TaskContext {
  /** Absolute workspace root; declared paths are relative to it. */
  readonly root: string;
  /** The task being run. */
  readonly task: Task;
  /** Resolves a workspace-relative path to an absolute one. */
  path(rel: string): string;
  /** Appends a line to the task's log (`.kiln/logs/<task>.log`). */
  log(line: string): void;
  /**
   * Shows what the action is doing now (e.g. `debian.iso 42% 1.2 GiB / 2.8 GiB ...`) next to the
   * task in the terminal's live view. Not logged: call it as often as you like.
   */
  progress(text: string): void;
  /**
   * Shows a warning to the person running the build (and logs it), e.g. a signing key about to
   * expire. One line, sentence case, no final period.
   */
  warn(text: string): void;
  /**
   * A folder this task keeps between its runs (`.kiln/task-state/<task>/`), created on first
   * call: for tools that work incrementally on their own earlier results (an APT index cache, a
   * git clone to commit into). It is neither an output nor cached, so what is in it must never
   * decide the outputs' bytes, only how fast they are made; `kiln clean` removes it.
   */
  stateDir(): string;
  /** Only the declared env vars, plus PATH, HOME and TMPDIR. */
  readonly env: Readonly<Record<string, string>>;
  /** Aborted on Ctrl-C: long actions should stop promptly. */
  readonly signal: AbortSignal;
  /** Runs a command with the task's environment, its output going to the task's log. */
  exec(cmd: string[], opts?: { cwd?: string }): Promise<void>;
  /**
   * dax's `$`, in the workspace root with the task's environment and log; a failing command
   * rejects, and the task fails with `action-failed`.
   *
   * @example
   * ```ts
   * const $ = await ctx.$();
   * await $`tar -czf dist/src.tar.gz src`;
   * ```
   */
  $(): Promise<Shell>;
}

/**
 * The part of dax's `$` a task uses, declared here so that the engine's types do not pull dax
 * into every kiln start (Deno resolves npm packages even for type-only imports).
 */
export interface Shell {
  (strings: TemplateStringsArray, ...exprs: unknown[]): ShellCommand;
}

/** A dax command: await it (rejects when it fails), or read its output. */
export interface ShellCommand extends PromiseLike<{ readonly code: number }> {
  text(): Promise<string>;
  lines(): Promise<string[]>;
  json<T = unknown>(): Promise<T>;
  noThrow(): ShellCommand;
  quiet(): ShellCommand;
}

/** A shell command, run by `sh -c` in the workspace root. Its text is its identity in the key. */
export interface CommandAction {
  readonly kind: "cmd";
  readonly cmd: string;
}

/**
 * A TypeScript function. Its identity in the key is the digest of the module that defines it
 * (`module`, usually `import.meta.url`) plus an optional `version`, and the digests of the local
 * modules that module imports (statically, or with a literal dynamic `import()`), so editing a
 * pipeline's code, or the library code it calls, reruns its tasks.
 */
export interface FunctionAction {
  readonly kind: "fn";
  readonly module: string;
  readonly version?: string;
  /** Returns a {@link Failure} for an expected failure; throws only for bugs. */
  readonly run: (ctx: TaskContext) => Promise<void | Failure> | void | Failure;
}

/** How a task produces its outputs. */
export type Action = CommandAction | FunctionAction;

/**
 * A tool whose version enters the key. kiln runs `<name> <args>` once per binary (by its path and
 * file stat) and caches the first line of output.
 */
export interface ToolSpec {
  readonly name: string;
  /** Arguments that print the version; default `["--version"]`. */
  readonly args?: readonly string[];
}

/**
 * A task in the DAG.
 *
 * @example
 * ```ts
 * const t: Task = {
 *   id: "concat",
 *   deps: ["gen"],
 *   inputs: ["src/*.txt"],
 *   outputs: ["out/all.txt"],
 *   action: { kind: "cmd", cmd: "cat src/*.txt out/gen.txt > out/all.txt" },
 * };
 * ```
 */
export interface Task {
  /** Unique id: letters, digits and `._:/-`. */
  readonly id: string;
  readonly description?: string;
  /** Ids of tasks whose outputs this one reads. */
  readonly deps?: readonly string[];
  /** Workspace-relative files, directories or globs (`*`, `**`, `?`, `[..]`, `{a,b}`). */
  readonly inputs?: readonly string[];
  /** Parameters that change the result (versions, flags); part of the key. */
  readonly params?: Readonly<Record<string, JsonValue>>;
  /** Names of env vars the action may see; their values are part of the key. */
  readonly env?: readonly string[];
  /**
   * Env vars the action may see whose values are secrets (an armored signing key, a token):
   * only their SHA-256 enters the key, the kept fingerprint and the build stamp, so no kiln file
   * holds the value. For high-entropy values only: a hash of a short password can be guessed.
   */
  readonly secretEnv?: readonly string[];
  /**
   * Env vars the action may see that are NOT part of the key (Turborepo's `passThroughEnv`): for
   * values that describe the run rather than change the result, such as which CI built it. A
   * laptop and a CI runner then compute the same key and share the cached result.
   */
  readonly passEnv?: readonly string[];
  /** Tools whose versions are part of the key. */
  readonly tools?: readonly ToolSpec[];
  /** When true, the host OS and CPU architecture are part of the key. */
  readonly platform?: boolean;
  /** Workspace-relative files or directories the action must produce. */
  readonly outputs?: readonly string[];
  /** A resource pool name; see {@link Graph.pools}. */
  readonly pool?: string;
  /**
   * What the machine that runs this task must offer. Not part of the key (the result does not
   * depend on where it was made); read by the builder that decides where the task runs.
   */
  readonly needs?: TaskNeeds;
  readonly action: Action;
}

/**
 * A task's requirements of its host, so a builder can run it here, run it here slowly (software
 * emulation), or hand it to another machine.
 *
 * @example
 * ```ts
 * const needs: TaskNeeds = { vm: "x86_64", tools: ["packer", "qemu-img"], memoryMiB: 2048 };
 * ```
 */
export interface TaskNeeds {
  /** Runs a virtual machine of this guest architecture. */
  readonly vm?: "x86_64" | "aarch64";
  /** Executables that must be on PATH. */
  readonly tools?: readonly string[];
  /** Free memory the task needs, in MiB. */
  readonly memoryMiB?: number;
  /** Free disk space the task needs in the workspace, in MiB. */
  readonly diskMiB?: number;
}

/** A validated, fully declared set of tasks with resource pools. */
export interface TaskSet {
  readonly tasks: readonly Task[];
  /** Pool name -> how many of its tasks may run at once. */
  readonly pools: Readonly<Record<string, number>>;
  /** Absolute workspace root: where paths resolve and `.kiln/` lives. */
  readonly root: string;
  /**
   * A complete description of the task set as text (a YAML file's path and content), when one
   * exists: it lets a no-op build be recognized without loading the tasks (see `stamp.ts`).
   */
  readonly configId?: string;
  /**
   * Absolute paths of the files that, with `configId`, fully determine the task set (for
   * TypeScript pipelines: their modules and the data files they read). The build stamp records
   * their signatures, so a no-op build is recognized without loading them.
   */
  readonly configFiles?: readonly string[];
}

const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._:/-]*$/;

/** True when `id` is a valid task id (also safe to use, encoded, as a log file name). */
export function isValidTaskId(id: string): boolean {
  return ID_PATTERN.test(id) && !id.includes("..");
}

/** Shorthand for a command action. */
export function cmd(command: string): CommandAction {
  return { kind: "cmd", cmd: command };
}

/**
 * Shorthand for a TypeScript action defined in `module` (pass `import.meta.url`).
 *
 * @example
 * ```ts
 * const action = fn(import.meta.url, async (ctx) => {
 *   await Deno.writeTextFile(ctx.path("out/a.txt"), "a");
 * });
 * ```
 */
export function fn(
  module: string,
  run: FunctionAction["run"],
  version?: string,
): FunctionAction {
  return { kind: "fn", module, run, version };
}
