/**
 * Build output for GitHub Actions. It wraps the plain CI reporter and adds what GitHub shows
 * best: each task that ran as a collapsed log group (`::group::`) holding its log, an error
 * annotation (`::error`) per failed task and a warning annotation per warning, a Markdown table
 * of every task in the job summary (`$GITHUB_STEP_SUMMARY`), and step outputs in
 * `$GITHUB_OUTPUT` (`ran`, `cached`, `fresh`, `failed`, `skipped`, `failed-tasks`, `outputs`)
 * for later steps.
 *
 * Syntax and escaping follow GitHub's "Workflow commands for GitHub Actions": data escapes `%`,
 * CR and LF as `%25`, `%0D`, `%0A`; properties also `:` and `,` as `%3A`, `%2C`. Task logs are
 * wrapped in `::stop-commands::` so a line a tool printed can never act as a command.
 *
 * @module
 */

import { detectCi, type EnvLookup, processEnv } from "../builders/ci_env.ts";
import type { BuildReporter, Span, TaskOutcome } from "../engine/events.ts";
import { CliReporter, formatDuration, type ReporterOptions } from "./reporter.ts";

/** What `kiln build` needs of a reporter: progress events, trace spans and the final line. */
export interface FinishingReporter extends BuildReporter {
  readonly spans: Span[];
  finish(counts: Record<string, number>, ms: number): void;
}

/** The declared outputs of each task (a `Graph` fits), for the summary and `outputs`. */
export interface TaskOutputs {
  readonly tasks: ReadonlyMap<string, { readonly outputs?: readonly string[] }>;
}

/** Settings of a {@link GitHubReporter}. */
export interface GitHubReporterOptions {
  /** Print each cause under a task that ran or was restored (`--explain`). */
  readonly explain?: boolean;
  /** Show the logs of restored tasks too, in groups (`--replay`). */
  readonly replay?: boolean;
  /** Print nothing on stderr (the files are still written). */
  readonly quiet?: boolean;
  /** Task outputs, for the summary's outputs column and the `outputs` step output. */
  readonly graph?: TaskOutputs;
  /** The job summary file (`$GITHUB_STEP_SUMMARY`); none when unset. */
  readonly summaryPath?: string;
  /** The step outputs file (`$GITHUB_OUTPUT`); none when unset. */
  readonly outputPath?: string;
  /** The run's web page, linked from the summary. */
  readonly runUrl?: string;
  /** Where workflow commands go (default: stderr, like the plain lines, so order is kept). */
  readonly write?: (text: string) => void;
  /** Log lines shown in a task's group at most; earlier ones are left in the log file. */
  readonly maxLogLines?: number;
  /** Summary table rows at most (GitHub caps a step's summary at 1 MiB). */
  readonly maxSummaryRows?: number;
}

const enc = new TextEncoder();
const toStderr = (s: string) => void Deno.stderr.writeSync(enc.encode(s));

/**
 * Escapes a workflow command's data (the text after `::`): `%`, CR, LF.
 *
 * @example
 * ```ts
 * escapeData("50%\ndone"); // "50%25%0Adone"
 * ```
 */
export function escapeData(s: string): string {
  return s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/**
 * Escapes a workflow command's property value (`title=...`): the data escapes plus `:` and `,`,
 * which would otherwise end the property or the property list.
 *
 * @example
 * ```ts
 * escapeProperty("image:demo:packer, failed"); // "image%3Ademo%3Apacker%2C failed"
 * ```
 */
export function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/**
 * One workflow command line, e.g. `::error title=Task a failed::boom`.
 *
 * @example
 * ```ts
 * workflowCommand("error", { title: "Task a:b failed" }, "exit 1");
 * // "::error title=Task a%3Ab failed::exit 1"
 * ```
 */
export function workflowCommand(
  name: string,
  props: Readonly<Record<string, string>>,
  message: string,
): string {
  const p = Object.entries(props).map(([k, v]) => `${k}=${escapeProperty(v)}`).join(",");
  return `::${name}${p ? ` ${p}` : ""}::${escapeData(message)}`;
}

/**
 * A `$GITHUB_OUTPUT` (or `$GITHUB_ENV`) entry: `name=value` for one line, else (or with
 * `heredoc`) the documented multi-line form `name<<DELIMITER`, the value, `DELIMITER`, with a
 * random delimiter that no line of the value can match, so the value cannot end it early.
 *
 * @example
 * ```ts
 * outputEntry("ran", "3"); // "ran=3\n"
 * outputEntry("outputs", "a\nb"); // "outputs<<ghadelimiter_<uuid>\na\nb\nghadelimiter_<uuid>\n"
 * ```
 */
export function outputEntry(
  name: string,
  value: string,
  o: { heredoc?: boolean; delimiter?: string } = {},
): string {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`bad output name "${name}"`);
  const multi = value.includes("\n") || value.includes("\r");
  if (!multi && !o.heredoc) return `${name}=${value}\n`;
  const d = o.delimiter ?? `ghadelimiter_${crypto.randomUUID()}`;
  if (value.split(/\r?\n/).includes(d)) throw new Error(`output "${name}" holds its delimiter`);
  return `${name}<<${d}\n${value}\n${d}\n`;
}

/** Escapes text for a Markdown table cell. */
function cell(s: string): string {
  return s.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** Code span for a Markdown cell (task ids and paths), safe for backticks in the text. */
function code(s: string): string {
  const t = cell(s);
  return t.includes("`") ? `\`\` ${t} \`\`` : `\`${t}\``;
}

/** Reads a log; `null` when there is none or it is empty. */
function readLog(path: string | undefined): string | null {
  if (!path) return null;
  try {
    const text = Deno.readTextFileSync(path).trimEnd();
    return text === "" ? null : text;
  } catch {
    return null;
  }
}

/**
 * The GitHub Actions reporter. Restored tasks print as plain lines (`[id] cached in 2ms`);
 * everything else not shown in a group goes to the wrapped reporter, which keeps its format.
 */
export class GitHubReporter implements FinishingReporter {
  #base: FinishingReporter;
  #o: GitHubReporterOptions;
  #write: (text: string) => void;
  #outcomes: TaskOutcome[] = [];

  constructor(base: FinishingReporter, options: GitHubReporterOptions = {}) {
    this.#base = base;
    this.#o = options;
    this.#write = options.write ?? toStderr;
  }

  get spans(): Span[] {
    return this.#base.spans;
  }

  #print(lines: string[]): void {
    if (!this.#o.quiet) this.#write(lines.join("\n") + "\n");
  }

  /** The task's log inside a collapsed group, with workflow commands off while it prints. */
  #group(header: string, log: string, path: string): string[] {
    const max = this.#o.maxLogLines ?? 2000;
    const lines = log.split("\n");
    const token = `kiln-${crypto.randomUUID()}`;
    const out = [`::group::${escapeData(header)}`];
    if (lines.length > max) {
      out.push(`(${lines.length - max} earlier lines are in ${path})`);
    }
    out.push(`::stop-commands::${token}`, ...lines.slice(-max), `::${token}::`, "::endgroup::");
    return out;
  }

  #reasons(o: TaskOutcome): string[] {
    return this.#o.explain ? o.reasons.map((r) => `[${o.id}]   because ${r}`) : [];
  }

  taskStarted(id: string, what: "run" | "restore"): void {
    this.#base.taskStarted?.(id, what);
  }

  taskProgress(id: string, text: string): void {
    this.#base.taskProgress?.(id, text);
  }

  taskFinished(o: TaskOutcome): void {
    this.#outcomes.push(o);
    const took = formatDuration(o.durationMs);
    if (o.status === "ran" || (o.status === "cached" && this.#o.replay)) {
      const log = readLog(o.logPath);
      if (log !== null) {
        const header = `${o.id} (${o.status} in ${took})`;
        this.#print([...this.#group(header, log, o.logPath!), ...this.#reasons(o)]);
        return;
      }
    }
    if (o.status === "cached") {
      // Printed here rather than by the wrapped reporter, which holds such lines back to write
      // many together: a group printed meanwhile would come before them.
      this.#print([`[${o.id}] cached in ${took}`, ...this.#reasons(o)]);
      return;
    }
    this.#base.taskFinished?.(o);
    if (o.status !== "failed") return;
    const message = o.failure?.message ?? "unknown failure";
    const log = readLog(o.logPath);
    const tail = log === null
      ? ""
      : `\n\nLast lines of ${o.logPath}:\n${log.split("\n").slice(-10).join("\n")}`;
    const lines = [workflowCommand("error", { title: `Task ${o.id} failed` }, message + tail)];
    if (log !== null) {
      lines.push(...this.#group(`${o.id} (failed after ${took}): full log`, log, o.logPath!));
    }
    this.#print(lines);
  }

  warn(message: string): void {
    this.#print([workflowCommand("warning", {}, message)]);
  }

  span(s: Span): void {
    this.#base.span?.(s);
  }

  /** Prints the final line, then writes the job summary and the step outputs. */
  finish(counts: Record<string, number>, ms: number): void {
    this.#base.finish(counts, ms);
    const files: [string | undefined, () => string][] = [
      [this.#o.summaryPath, () => this.summary(counts, ms)],
      [this.#o.outputPath, () => this.stepOutputs(counts)],
    ];
    for (const [path, text] of files) {
      if (!path) continue;
      try {
        Deno.writeTextFileSync(path, text(), { append: true });
      } catch (e) {
        this.#print([
          workflowCommand(
            "warning",
            {},
            `Could not append to "${path}" (${
              (e as Error).message
            }): the job summary or step outputs are incomplete`,
          ),
        ]);
      }
    }
  }

  #outputsOf(id: string): readonly string[] {
    return this.#o.graph?.tasks.get(id)?.outputs ?? [];
  }

  /** The Markdown job summary: counts, failures, then a row per task. */
  summary(counts: Record<string, number>, ms: number): string {
    const parts = [`ran ${counts.ran ?? 0}`, `cached ${counts.cached ?? 0}`];
    parts.push(`fresh ${counts.fresh ?? 0}`);
    if (counts.failed) parts.push(`failed ${counts.failed}`);
    if (counts.skipped) parts.push(`skipped ${counts.skipped}`);
    const out = [`### kiln build: ${parts.join(", ")} in ${formatDuration(ms)}`, ""];
    if (this.#o.runUrl) out.push(`Run: ${this.#o.runUrl}`, "");
    const failed = this.#outcomes.filter((o) => o.status === "failed");
    for (const o of failed) {
      out.push(`- **${code(o.id)} failed**: ${cell(o.failure?.message ?? "unknown failure")}`);
    }
    if (failed.length) out.push("");
    const max = this.#o.maxSummaryRows ?? 1000;
    // Failures first, then the order tasks finished in.
    const rows = [...failed, ...this.#outcomes.filter((o) => o.status !== "failed")];
    out.push("| task | status | duration | outputs |", "| --- | --- | ---: | --- |");
    for (const o of rows.slice(0, max)) {
      const outputs = this.#outputsOf(o.id).map(code).join("<br>");
      const took = o.status === "skipped" ? "" : formatDuration(o.durationMs);
      out.push(`| ${code(o.id)} | ${o.status} | ${took} | ${outputs} |`);
    }
    if (rows.length > max) out.push("", `... and ${rows.length - max} more tasks`);
    return out.join("\n") + "\n\n";
  }

  /**
   * The `$GITHUB_OUTPUT` entries: the counts, `failed-tasks` (space-separated ids) and
   * `outputs` (the declared outputs of every task that succeeded, one per line).
   */
  stepOutputs(counts: Record<string, number>): string {
    const ok = new Set(["ran", "cached", "fresh"]);
    const outputs = new Set<string>();
    for (const o of this.#outcomes) {
      if (ok.has(o.status)) { for (const p of this.#outputsOf(o.id)) outputs.add(p); }
    }
    const failedIds = this.#outcomes.filter((o) => o.status === "failed").map((o) => o.id);
    return ["ran", "cached", "fresh", "failed", "skipped"]
      .map((k) => outputEntry(k, String(counts[k] ?? 0)))
      .join("") +
      outputEntry("failed-tasks", failedIds.join(" ")) +
      outputEntry("outputs", [...outputs].sort().join("\n"), { heredoc: true });
  }
}

/**
 * The reporter for `kiln build`: in GitHub Actions a {@link GitHubReporter} around the plain
 * reporter (writing `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT` when the runner names them),
 * anywhere else the {@link CliReporter} itself.
 *
 * @example
 * ```ts
 * // cli/build_cmd.ts
 * const reporter = ciReporter(reporterOptions(flags, graph.order.length), graph);
 * ```
 */
export function ciReporter(
  options: ReporterOptions,
  graph?: TaskOutputs,
  env: EnvLookup = processEnv,
): FinishingReporter {
  const base = new CliReporter(options);
  const ci = detectCi(env);
  if (ci.provider !== "github") return base;
  return new GitHubReporter(base, {
    explain: options.explain,
    replay: options.replay,
    quiet: options.quiet,
    graph,
    summaryPath: env("GITHUB_STEP_SUMMARY") || undefined,
    outputPath: env("GITHUB_OUTPUT") || undefined,
    runUrl: ci.runUrl,
    write: options.write,
  });
}
