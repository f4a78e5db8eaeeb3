/**
 * Runs one whole process and times it by the wall clock, from spawn to exit (output drained).
 *
 * @module
 */

/** A command to run: program, arguments, working directory and extra environment. */
export interface ProcessSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** Outcome of one timed run. */
export interface TimedRun {
  /** Wall-clock milliseconds from spawn to exit. */
  readonly ms: number;
  readonly code: number;
  /** Whether the run was killed for exceeding its time limit. */
  readonly timedOut: boolean;
  /** The last lines of stdout and stderr, for error messages. */
  readonly tail: string;
  /** Standard output (its last 64 KiB), for runs that report a result. */
  readonly stdout: string;
}

const decoder = new TextDecoder();

function tailOf(bytes: Uint8Array, lines = 15): string {
  const text = decoder.decode(bytes.length > 65536 ? bytes.subarray(bytes.length - 65536) : bytes);
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Formats a spec as a shell-like line for messages, e.g. `make -j2 (in bench/.work/make-1000)`. */
export function describeSpec(spec: ProcessSpec): string {
  return `${[spec.cmd, ...spec.args].join(" ")} (in ${spec.cwd})`;
}

/**
 * Spawns `spec`, waits for it and returns its wall-clock time. Output is piped and kept only as a
 * tail; every tool is measured the same way, printing to a pipe rather than a terminal.
 *
 * @param timeoutMs the process is killed (SIGKILL) after this long
 * @example
 * ```ts
 * const r = await timeProcess({ cmd: "ninja", args: ["-j2"], cwd: "bench/.work/ninja-1000" });
 * if (r.code === 0) console.log(`${r.ms.toFixed(1)} ms`);
 * ```
 */
export async function timeProcess(spec: ProcessSpec, timeoutMs = 600_000): Promise<TimedRun> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const command = new Deno.Command(spec.cmd, {
    args: [...spec.args],
    cwd: spec.cwd,
    env: spec.env ? { ...spec.env } : undefined,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: ac.signal,
  });
  const start = performance.now();
  try {
    const out = await command.output();
    const ms = performance.now() - start;
    const tail = [tailOf(out.stdout), tailOf(out.stderr)].filter((t) => t).join("\n");
    const stdout = decoder.decode(out.stdout.subarray(Math.max(0, out.stdout.length - 65536)));
    return { ms, code: out.code, timedOut: ac.signal.aborted, tail, stdout };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a short helper command untimed and returns its trimmed stdout, or `null` when it cannot be
 * started or fails (used for version probes and machine information).
 */
export async function captureOutput(
  cmd: string,
  args: readonly string[],
  cwd?: string,
): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args: [...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.success ? decoder.decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}
