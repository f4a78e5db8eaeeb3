/**
 * Build output for people. On a terminal: a live view (running tasks with elapsed time,
 * done/total) redrawn in place. Off a terminal or with CI=true: plain lines prefixed with the
 * task id. Either way a failed task's log tail, and a final `ran N, cached N, fresh N in 1.2s`.
 * Everything goes to stderr so `--json` owns stdout.
 *
 * @module
 */

import type { BuildReporter, Span, TaskOutcome } from "../engine/events.ts";
import { type EnvLookup, inCi, processEnv } from "../builders/ci_env.ts";

/** Reporter settings from the command line. */
export interface ReporterOptions {
  readonly total: number;
  readonly live: boolean;
  readonly explain: boolean;
  readonly replay: boolean;
  readonly quiet: boolean;
  /** Where output goes (default: stderr), for tests. */
  readonly write?: (text: string) => void;
}

const enc = new TextEncoder();
const toStderr = (s: string) => void Deno.stderr.writeSync(enc.encode(s));

/** The last `n` lines of a log, for showing under a failure. */
export function lastLines(path: string, n: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

/** Formats milliseconds as `35ms`, `1.2s` or `3m04s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** Reporter settings from `kiln build`'s flags, for `total` tasks. */
export function reporterOptions(
  flags: { explain?: boolean; replay?: boolean },
  total: number,
): ReporterOptions {
  return {
    total,
    live: useLiveView(),
    explain: flags.explain ?? false,
    replay: flags.replay ?? false,
    quiet: false,
  };
}

/**
 * True when stderr is a terminal and not in CI (any service `detectCi` knows: Jenkins sets no
 * `CI`): the live view is used.
 */
export function useLiveView(env: EnvLookup = processEnv): boolean {
  return Deno.stderr.isTerminal() && !inCi(env);
}

/** Collects spans for `--profile` and prints progress. */
export class CliReporter implements BuildReporter {
  readonly spans: Span[] = [];
  #o: ReporterOptions;
  #running = new Map<string, { since: number; what: string; detail?: string }>();
  #done = 0;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Plain-mode lines of restored tasks not yet written, and since when. */
  #pending = "";
  #pendingSince = 0;

  #write: (text: string) => void;

  constructor(o: ReporterOptions) {
    this.#o = o;
    this.#write = o.write ?? toStderr;
  }

  #clear(): void {
    if (this.#drawn > 0) this.#write(`\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    this.#clear();
    const cols = Deno.consoleSize?.().columns ?? 80;
    const lines = [`[${this.#done}/${this.#o.total}] building`];
    const now = performance.now();
    for (const [id, r] of [...this.#running].slice(0, 8)) {
      const detail = r.detail ? `  ${r.detail}` : "";
      lines.push(`  ${r.what} ${id} ${formatDuration(now - r.since)}${detail}`.slice(0, cols - 1));
    }
    if (this.#running.size > 8) lines.push(`  ... ${this.#running.size - 8} more`);
    this.#write(lines.join("\n") + "\n");
    this.#drawn = lines.length;
  }

  /**
   * Prints above the live view. Off a terminal, `batch` lines (restored tasks: a restore of a
   * thousand outputs prints a thousand) are gathered and written together, at most 100 ms late;
   * anything else writes them first.
   */
  #print(text: string, batch = false): void {
    if (this.#o.quiet) return;
    if (this.#o.live) this.#clear();
    const line = text.endsWith("\n") ? text : text + "\n";
    if (batch && !this.#o.live) {
      const now = performance.now();
      if (!this.#pending) this.#pendingSince = now;
      this.#pending += line;
      if (this.#pending.length > 16_384 || now - this.#pendingSince > 100) this.#flushPending();
      return;
    }
    this.#flushPending();
    this.#write(line);
  }

  #flushPending(): void {
    if (!this.#pending) return;
    this.#write(this.#pending);
    this.#pending = "";
  }

  taskProgress(id: string, text: string): void {
    const r = this.#running.get(id);
    if (r) r.detail = text;
  }

  taskStarted(id: string, what: "run" | "restore" | "delegate"): void {
    if (what !== "restore") this.#flushPending(); // this may take a while: show what is done
    // The live view starts with the first task (a no-op build never needs its timer).
    if (this.#o.live && !this.#o.quiet) this.#timer ??= setInterval(() => this.#draw(), 100);
    this.#running.set(id, {
      since: performance.now(),
      what: what === "run" ? "running" : what === "delegate" ? "building elsewhere" : "restoring",
    });
  }

  taskFinished(o: TaskOutcome): void {
    this.#running.delete(o.id);
    this.#done++;
    if (o.status === "fresh") return;
    const lines: string[] = [];
    if (o.status === "failed") {
      lines.push(`[${o.id}] failed: ${o.failure?.message ?? "unknown failure"}`);
      const tail = o.logPath ? lastLines(o.logPath, 20) : "";
      if (tail) lines.push(...tail.split("\n").map((l) => `[${o.id}] | ${l}`));
      if (tail) lines.push(`[${o.id}] full log: ${o.logPath}`);
      else lines.push(`[${o.id}] (it printed nothing)`);
    } else if (o.status === "skipped") lines.push(`[${o.id}] skipped`);
    else lines.push(`[${o.id}] ${o.status} in ${formatDuration(o.durationMs)}`);
    if (this.#o.explain && (o.status === "ran" || o.status === "cached")) {
      for (const r of o.reasons) lines.push(`[${o.id}]   because ${r}`);
    }
    if (this.#o.replay && o.status === "cached" && o.logPath) {
      try {
        const log = Deno.readTextFileSync(o.logPath).trimEnd();
        if (log) lines.push(...log.split("\n").map((l) => `[${o.id}] | ${l}`));
      } catch { /* no log */ }
    }
    this.#print(lines.join("\n"), o.status === "cached" && lines.length === 1);
  }

  warn(message: string): void {
    this.#print(`warning: ${message}`);
  }

  span(s: Span): void {
    this.spans.push(s);
  }

  /** Stops the live view and prints the final line. */
  finish(counts: Record<string, number>, ms: number): void {
    // Never clear an unset timer: the first timer call loads Node's timers (~7 ms).
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#o.live) this.#clear();
    const parts = [`ran ${counts.ran}`, `cached ${counts.cached}`, `fresh ${counts.fresh}`];
    if (counts.failed) parts.push(`failed ${counts.failed}`);
    if (counts.skipped) parts.push(`skipped ${counts.skipped}`);
    this.#print(`${parts.join(", ")} in ${formatDuration(ms)}`);
  }
}
