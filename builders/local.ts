/**
 * The local builder: runs task processes on this machine, each in its own process group so
 * Ctrl-C (or a cancelled build) kills the command and everything it started.
 *
 * @module
 */

import type { ProcessRequest, ProcessResult, ProcessRunner } from "../engine/process.ts";
import { keepOutput, shellQuote, ShellWorker, workerCanRun } from "./shell_worker.ts";

const KILL_GRACE_MS = 2000;

/** Every descendant of `pid`, from /proc (empty where there is no /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const list = children.get(ppid) ?? [];
        list.push(Number(e.name));
        children.set(ppid, list);
      } catch { /* exited meanwhile */ }
    }
  } catch {
    return [];
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/**
 * Signals the process group led by `pid` (a shell worker) at once, then anything that left the
 * group (found beforehand by walking /proc).
 */
export function killGroup(pid: number, signal: Deno.Signal): void {
  const stragglers = descendants(pid);
  try {
    Deno.kill(-pid, signal);
  } catch { /* the group is gone */ }
  for (const p of stragglers) {
    try {
      Deno.kill(p, signal);
    } catch { /* already gone */ }
  }
}

/** Signals `pid` and all its descendants (children first found, then the parent). */
export function killTree(pid: number, signal: Deno.Signal): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      Deno.kill(p, signal);
    } catch { /* already gone */ }
  }
}

/**
 * Runs task processes on this machine. A command runs in a subshell of a pooled
 * {@link ShellWorker} (a fork, not a new shell: see `shell_worker.ts`), with output redirected
 * by the shell straight into the log file (no copying through kiln); a request a worker cannot
 * run exactly as `sh -c` would (an env var the shell treats specially) starts its own process.
 * Each worker leads its own process group, so a cancel (kiln's Ctrl-C handler aborts the build)
 * signals a worker and everything it runs at once.
 *
 * Call {@link LocalProcessRunner.release} when a build ends; the runner stays usable after it.
 */
export class LocalProcessRunner implements ProcessRunner {
  #workers: ShellWorker[] = [];
  #parallelism = Infinity;

  /**
   * Runs at most `parallelism` processes at once from now on, queueing up to {@link QUEUE_DEPTH}
   * requests per worker so that each starts its next command the moment the last one ends, while
   * kiln hashes and stores between them. Returns that depth: the build admits
   * `parallelism × depth` actions at once.
   */
  prepare(parallelism: number): number {
    this.#parallelism = Math.max(1, parallelism);
    return QUEUE_DEPTH;
  }

  async run(req: ProcessRequest): Promise<ProcessResult> {
    if (req.signal.aborted) return { code: 130, signal: "SIGINT" };
    if (!workerCanRun(req)) return await spawnOnce(req);
    const worker = this.#pick(req.cwd);
    const stop = killer(() => worker.pid, killGroup);
    req.signal.addEventListener("abort", stop.kill, { once: true });
    try {
      return await worker.run(req);
    } finally {
      req.signal.removeEventListener("abort", stop.kill);
      stop.done();
      if (!worker.alive || req.signal.aborted) {
        this.#workers = this.#workers.filter((w) => w !== worker);
        await worker.close();
      }
    }
  }

  /** An idle worker, else a new one while under the limit, else the least busy one. */
  #pick(cwd: string): ShellWorker {
    let best: ShellWorker | undefined;
    for (const w of this.#workers) {
      if (!w.alive) continue;
      if (w.queued === 0) return w;
      if (!best || w.queued < best.queued) best = w;
    }
    if (best && this.#workers.length >= this.#parallelism) return best;
    const w = new ShellWorker(cwd);
    this.#workers.push(w);
    return w;
  }

  /** Pids of the shells this runner keeps, idle or busy (for diagnostics and tests). */
  workerPids(): number[] {
    return this.#workers.map((w) => w.pid);
  }

  /** Ends the workers once their queued runs are done (a build is over); later runs start new ones. */
  async release(): Promise<void> {
    const all = this.#workers;
    this.#workers = [];
    this.#parallelism = Infinity;
    await Promise.all(all.map((w) => w.close()));
  }
}

/** Requests a worker accepts at once: the running one and the next. */
export const QUEUE_DEPTH = 2;

/** SIGTERM to a process tree now, SIGKILL after a grace period unless `done()` comes first. */
function killer(pid: () => number, kill: typeof killTree = killTree) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    kill: () => {
      kill(pid(), "SIGTERM");
      timer = setTimeout(() => kill(pid(), "SIGKILL"), KILL_GRACE_MS);
    },
    done: () => timer !== undefined && clearTimeout(timer), // unset: no timer load
  };
}

/** Runs `req` in a process of its own: `sh`, redirecting into the log, then the command. */
async function spawnOnce(req: ProcessRequest): Promise<ProcessResult> {
  const redirect = `exec ${req.truncateLog ? ">" : ">>"}${shellQuote(req.logPath)} 2>&1`;
  const [first, ...rest] = req.argv;
  const args = first === "sh" && rest[0] === "-c" && rest.length === 2
    ? ["-c", `${redirect}\n${rest[1]}`]
    : ["-c", `${redirect}; exec "$@"`, "sh", ...req.argv];
  const child = new Deno.Command("/bin/sh", {
    args,
    cwd: req.cwd,
    env: req.env as Record<string, string>,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = killer(() => child.pid);
  req.signal.addEventListener("abort", stop.kill, { once: true });
  try {
    const status = await child.status;
    if (req.truncateLog) keepOutput(req.logPath, req.logPath);
    return { code: status.code, signal: status.signal ?? null };
  } finally {
    req.signal.removeEventListener("abort", stop.kill);
    stop.done();
  }
}
