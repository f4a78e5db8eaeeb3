/**
 * The local builder: runs task processes on this machine, each in its own process group so
 * Ctrl-C (or a cancelled build) kills the command and everything it started.
 *
 * @module
 */

import type { ProcessRequest, ProcessResult, ProcessRunner } from "../engine/process.ts";

const KILL_GRACE_MS = 2000;

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

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

/** Signals `pid` and all its descendants (children first found, then the parent). */
export function killTree(pid: number, signal: Deno.Signal): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      Deno.kill(p, signal);
    } catch { /* already gone */ }
  }
}

/**
 * Runs processes with `Deno.Command`. Output is redirected by the shell straight into the log
 * file (no copying through kiln), which keeps per-task overhead to one `sh` start. Children stay
 * in kiln's process group (a new group would force `fork` instead of `vfork`, 1-2 ms a task):
 * a terminal's Ctrl-C reaches them directly, and a cancel walks /proc to kill the whole tree.
 */
export class LocalProcessRunner implements ProcessRunner {
  async run(req: ProcessRequest): Promise<ProcessResult> {
    if (req.signal.aborted) return { code: 130, signal: "SIGINT" };
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kill = () => {
      killTree(child.pid, "SIGTERM");
      timer = setTimeout(() => killTree(child.pid, "SIGKILL"), KILL_GRACE_MS);
    };
    req.signal.addEventListener("abort", kill, { once: true });
    try {
      const status = await child.status;
      return { code: status.code, signal: status.signal ?? null };
    } finally {
      req.signal.removeEventListener("abort", kill);
      clearTimeout(timer);
    }
  }
}
