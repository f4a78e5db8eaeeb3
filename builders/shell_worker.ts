/**
 * A long-lived `/bin/sh` that runs task commands one at a time, each in a forked subshell.
 *
 * Starting a shell per task (exec, dynamic linking, start-up) is most of what a small task costs:
 * measured here, 1,000 `sh -c 'cat a b > c'` cost 2.5 ms each, while a running shell forking a
 * subshell for each cost 1.45 ms. So each worker is one `sh -s` reading a script from a pipe;
 * kiln writes, per task,
 *
 * ```sh
 * (exec >'log' 2>&1 </dev/null; cd 'cwd' || exit 127; unset OLDPWD; export A='x' ...
 * eval 'the command'
 * )
 * echo "$?"
 * ```
 *
 * and reads the status line back. A truncated log is written to a scratch file first, which
 * becomes the log only if the run printed something (see {@link ShellWorker.run}).
 *
 * The subshell sees exactly what `sh -c` would: an environment of the declared variables only
 * (the worker itself starts with an empty one), no positional parameters, stdin from /dev/null,
 * and no state from earlier tasks (everything a command does happens in its own subshell). Two
 * differences remain: `$$` is the worker's pid, shared by the tasks it runs one after another;
 * and a background process that outlives its task and prints after a quiet task ended writes
 * into the scratch file of the worker's next task.
 *
 * @module
 */

import { removeIfExists } from "../engine/fs_util.ts";
import { dirname, join } from "../engine/path.ts";
import type { ProcessRequest, ProcessResult } from "../engine/process.ts";
import { statFile } from "../engine/stat.ts";

/** `s` as one single-quoted shell word. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Variables a shell gives its own meaning at start-up or while parsing; a request that sets one
 * runs through a fresh `sh -c` instead, where the shell treats it as it always does.
 */
const SHELL_OWN = new Set(["IFS", "PS1", "PS2", "PS4", "OPTIND", "PPID", "PWD", "OLDPWD", "ENV"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a {@link ShellWorker} can run `req` exactly as a fresh `sh -c` would. */
export function workerCanRun(req: ProcessRequest): boolean {
  return Object.keys(req.env).every((k) => NAME.test(k) && !SHELL_OWN.has(k)) &&
    req.argv.length > 0 && !req.argv.some((a) => a.includes("\0"));
}

/**
 * The script lines that run `req` in a subshell and print its exit status; output goes to
 * `out` (default: the request's log).
 */
export function workerScript(req: ProcessRequest, out = req.logPath): string {
  const [first, ...rest] = req.argv;
  const body = first === "sh" && rest[0] === "-c" && rest.length === 2
    ? `eval ${shellQuote(rest[1])}`
    : `exec ${req.argv.map(shellQuote).join(" ")}`;
  const env = Object.entries(req.env).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return `(exec ${req.truncateLog ? ">" : ">>"}${shellQuote(out)} 2>&1 </dev/null; ` +
    `cd ${shellQuote(req.cwd)} || exit 127; unset OLDPWD; ` +
    (env.length ? `export ${env.join(" ")}; ` : "") +
    `${body}\n)\necho "$?"\n`;
}

interface Pending {
  readonly req: ProcessRequest;
  readonly out: string;
  readonly done: (r: ProcessResult) => void;
}

/**
 * One `sh -s` running requests in turn; see the module documentation. Requests may be queued
 * while one runs: the shell reads the next one from its pipe the moment the current one ends,
 * without waiting for kiln.
 */
export class ShellWorker {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending: Pending[] = [];
  #dead = false;
  #closing = false;
  #sent = 0;
  /** Scratch output files, two per log folder, alternating, reused while runs print nothing. */
  #scratch = new Set<string>();
  readonly #ended: Promise<ProcessResult>;

  constructor(cwd: string) {
    this.#child = new Deno.Command("/bin/sh", {
      args: ["-s"],
      cwd,
      clearEnv: true,
      env: {},
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      // Its own process group, so that it and everything it runs can be signalled at once:
      // walking /proc and killing one by one, the worker could start the next queued command
      // between the walk and its own death (a new process group costs a fork instead of a
      // vfork, once per worker).
      detached: true,
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#ended = this.#readStatuses();
  }

  /** The shell's pid: killing its process tree stops whatever it is running. */
  get pid(): number {
    return this.#child.pid;
  }

  /** False once the shell has exited or been told to. */
  get alive(): boolean {
    return !this.#dead && !this.#closing;
  }

  /** Requests sent and not finished, the running one included. */
  get queued(): number {
    return this.#pending.length;
  }

  /**
   * Runs `req` after the requests already queued and waits for its exit status. When the shell
   * itself dies (it was killed), the worker is dead and the result is how the shell ended.
   */
  run(req: ProcessRequest): Promise<ProcessResult> {
    if (!this.alive) throw new Error("ShellWorker.run() called on a dead worker");
    // A truncated log goes to a scratch file first: an empty one is reused (no new file), a
    // non-empty one becomes the log (one rename). Two alternate, so that a queued request never
    // truncates the output of the one before it before kiln has looked at it.
    const out = req.truncateLog
      ? join(dirname(req.logPath), `.kiln-out-${this.pid}-${this.#sent++ % 2}`)
      : req.logPath;
    if (req.truncateLog) this.#scratch.add(out); // never the caller's own log
    return new Promise((done) => {
      this.#pending.push({ req, out, done });
      this.#writer.write(new TextEncoder().encode(workerScript(req, out))).catch(() => {
        // The pipe broke: the shell is gone, and #readStatuses settles everything pending.
      });
    });
  }

  /** Reads one status line per request, in order, until the shell's output ends. */
  async #readStatuses(): Promise<ProcessResult> {
    const reader = this.#child.stdout.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
          const line = buffered.slice(0, i);
          buffered = buffered.slice(i + 1);
          const p = this.#pending.shift();
          if (!p || !/^\d+$/.test(line)) throw new Error(`Unexpected worker output "${line}"`);
          if (p.req.truncateLog) keepOutput(p.out, p.req.logPath);
          p.done({ code: Number(line), signal: null });
        }
      }
    } catch {
      // The pipe broke (the shell is gone), or the shell said something unexpected: end it.
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    this.#dead = true;
    const status = await this.#child.status;
    const result = { code: status.code, signal: status.signal ?? null };
    for (const p of this.#pending.splice(0)) {
      if (p.req.truncateLog) keepOutput(p.out, p.req.logPath);
      p.done(result);
    }
    return result;
  }

  /** Ends the shell after the queued requests (it exits at the end of its script). */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        await this.#writer.close();
      } catch { /* already gone */ }
    }
    await this.#ended;
    for (const f of this.#scratch) removeIfExists(f);
  }
}

/** Makes `out` the log when the run wrote something; otherwise there is no log. */
export function keepOutput(out: string, log: string): void {
  if ((statFile(out)?.size ?? 0) > 0) Deno.renameSync(out, log);
  else removeIfExists(log);
}
