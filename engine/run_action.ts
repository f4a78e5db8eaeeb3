/**
 * Runs a task's action with a clean environment: only the declared env vars plus a minimal PATH,
 * HOME and a private TMPDIR, output appended to `.kiln/logs/<task>.log`.
 *
 * @module
 */

import { type Failure, failure } from "./failure.ts";
import type { ProcessRunner } from "./process.ts";
import { dirname, join, kilnDir } from "./path.ts";
import { ensureDir } from "./fs_util.ts";
import { type TaskDax, taskDax } from "./dax_shell.ts";
import type { Task, TaskContext } from "./task.ts";

/** The log file of task `id` in workspace `root`. */
export function logPath(root: string, id: string): string {
  return join(logsDir(root), logName(id));
}

/** The folder of a workspace's task logs. */
export function logsDir(root: string): string {
  return join(kilnDir(root), "logs");
}

/** Where task `id` keeps its state between runs (see `TaskContext.stateDir`). */
export function taskStateDir(root: string, id: string): string {
  return join(kilnDir(root), "task-state", encodeURIComponent(id));
}

/** The file name of task `id`'s log. */
export function logName(id: string): string {
  return `${encodeURIComponent(id)}.log`;
}

/** The PATH a task sees unless it declares PATH: system folders plus the folder of `deno`. */
export function minimalPath(): string {
  minimal ??= [dirname(Deno.execPath()), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    .filter((d, i, all) => all.indexOf(d) === i).join(":");
  return minimal;
}
let minimal: string | undefined;

/** The environment a task's process sees. */
function taskEnv(
  task: Task,
  tmpdir: string,
  get: (name: string) => string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: minimalPath(),
    HOME: get("HOME") ?? "/",
    TMPDIR: tmpdir,
  };
  for (const name of [...task.env ?? [], ...task.secretEnv ?? [], ...task.passEnv ?? []]) {
    const v = get(name);
    if (v !== undefined) env[name] = v;
    else if (name === "PATH" || name === "HOME") delete env[name];
  }
  return env;
}

/** What running an action needs. */
export interface ActionContext {
  readonly graph: { readonly root: string };
  readonly runner: ProcessRunner;
  readonly signal: AbortSignal;
  readonly env: (name: string) => string | undefined;
  /** The build's private temporary folder, the tasks' TMPDIR; removed when the build ends. */
  readonly tmpdir: string;
  /** Receives `ctx.progress()` of TypeScript actions. */
  readonly reporter?: {
    taskProgress?(id: string, text: string): void;
    warn?(message: string): void;
  };
}

/** A failure plus where its log is. */
export type ActionFailure = Failure & { readonly log: string };

/** Runs `task`'s action; `null` on success. The log starts empty for each run. */
export async function runAction(task: Task, x: ActionContext): Promise<ActionFailure | null> {
  const root = x.graph.root;
  const log = logPath(root, task.id);
  ensureDir(dirname(log));
  ensureDir(x.tmpdir);
  for (const o of task.outputs ?? []) ensureDir(join(root, dirname(o)));
  const env = taskEnv(task, x.tmpdir, x.env);
  const fail = (reason: string, message: string): ActionFailure => ({
    ...failure(reason, message),
    log,
  });
  const a = task.action;
  if (a.kind === "cmd") {
    {
      // The runner's shell truncates the log as it redirects into it.
      const r = await x.runner.run({
        argv: ["sh", "-c", a.cmd],
        cwd: root,
        env,
        logPath: log,
        truncateLog: true,
        signal: x.signal,
      });
      if (x.signal.aborted) return fail("interrupted", `Task "${task.id}" was interrupted`);
      if (r.code !== 0) {
        const how = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
        return fail("action-failed", `Task "${task.id}" failed: its command ${how}`);
      }
      return null;
    }
  }
  Deno.writeTextFileSync(log, "");
  {
    let dax: TaskDax | undefined;
    const ctx: TaskContext = {
      $: async () => {
        dax ??= await taskDax({ cwd: root, env, logPath: log, signal: x.signal });
        return dax.$;
      },
      root,
      task,
      env,
      signal: x.signal,
      path: (rel) => join(root, rel),
      log: (line) => Deno.writeTextFileSync(log, line + "\n", { append: true }),
      progress: (text) => x.reporter?.taskProgress?.(task.id, text),
      warn: (text) => {
        Deno.writeTextFileSync(log, `warning: ${text}\n`, { append: true });
        x.reporter?.warn?.(`${task.id}: ${text}`);
      },
      stateDir: () => {
        const dir = taskStateDir(root, task.id);
        ensureDir(dir);
        return dir;
      },
      exec: async (argv, opts) => {
        const r = await x.runner.run({
          argv,
          cwd: opts?.cwd ?? root,
          env,
          logPath: log,
          signal: x.signal,
        });
        if (r.code !== 0) {
          throw new ActionExecError(`"${argv.join(" ")}" exited with code ${r.code}`);
        }
      },
    };
    try {
      const res = await a.run(ctx);
      if (x.signal.aborted) return fail("interrupted", `Task "${task.id}" was interrupted`);
      return res ? { ...res, log } : null;
    } catch (e) {
      if (x.signal.aborted) return fail("interrupted", `Task "${task.id}" was interrupted`);
      if (e instanceof ActionExecError) {
        return fail("action-failed", `Task "${task.id}" failed: ${e.message}`);
      }
      // dax rejects a failed command with a plain Error saying how it exited.
      if (dax && e instanceof Error && /^Exited with (code|signal)/.test(e.message)) {
        return fail(
          "action-failed",
          `Task "${task.id}" failed: a command ${e.message.toLowerCase()}`,
        );
      }
      throw e;
    } finally {
      dax?.close();
    }
  }
}

/** Thrown by `ctx.exec` when a command fails; turned into an `action-failed` value. */
class ActionExecError extends Error {}
