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

/**
 * Runs processes with `Deno.Command`. Output is redirected by the shell straight into the log
 * file (no copying through kiln), which keeps per-task overhead to one `sh` start.
 */
export class LocalProcessRunner implements ProcessRunner {
  async run(req: ProcessRequest): Promise<ProcessResult> {
    if (req.signal.aborted) return { code: 130, signal: "SIGINT" };
    const redirect = `exec >>${shellQuote(req.logPath)} 2>&1`;
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
      detached: true,
    }).spawn();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kill = () => {
      try {
        Deno.kill(-child.pid, "SIGTERM");
      } catch { /* already gone */ }
      timer = setTimeout(() => {
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch { /* already gone */ }
      }, KILL_GRACE_MS);
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
