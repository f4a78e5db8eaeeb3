/**
 * `kiln build [targets...]`: runs the build, or with `--dry-run` prints the plan.
 *
 * @module
 */

import { LocalProcessRunner } from "../builders/local.ts";
import { ConfigError } from "../engine/failure.ts";
import { planBuild, runBuild } from "../engine/build.ts";
import { defaultCacheDir, LocalStore } from "../engine/store.ts";
import { loadGraph, yamlTaskFile } from "./load.ts";
import { checkStamp } from "../engine/stamp.ts";
import { dirname } from "../engine/path.ts";
import { yamlConfigId } from "../engine/yaml_config.ts";
import { chromeTrace } from "./profile.ts";
import { CliReporter, formatDuration, useLiveView } from "./reporter.ts";

/** Options of `kiln build`, as commander parses them. */
export interface BuildFlags {
  jobs?: number;
  keepGoing?: boolean;
  file?: string;
  dryRun?: boolean;
  explain?: boolean;
  profile?: string;
  json?: boolean;
  replay?: boolean;
}

/** Exit codes: 0 success, 1 a task failed, 2 bad usage or configuration, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Prints a `ConfigError` as one line and returns exit code 2; rethrows anything else (a bug). */
export function configErrorExit(e: unknown): number {
  if (e instanceof ConfigError) {
    Deno.stderr.writeSync(new TextEncoder().encode(`error: ${e.message}\n`));
    return EXIT.usage;
  }
  throw e;
}

function reporterBase(flags: BuildFlags) {
  return {
    live: useLiveView(),
    explain: flags.explain ?? false,
    replay: flags.replay ?? false,
    quiet: false,
  };
}

const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

/**
 * When the build stamp says nothing changed since the last complete build of `targets`, the
 * task ids (all fresh); otherwise `null`. Only YAML task files have a stamp.
 */
function stampedNoOp(targets: string[], flags: BuildFlags): readonly string[] | null {
  if (flags.dryRun || flags.explain) return null;
  const file = yamlTaskFile(flags.file);
  if (!file) return null;
  let source: string;
  try {
    source = Deno.readTextFileSync(file);
  } catch {
    return null; // the full path reports the error
  }
  return checkStamp(
    dirname(file),
    { config: yamlConfigId(file, source), targets },
    (n) => Deno.env.get(n),
  );
}

/** Runs `kiln build`; returns the exit code. */
export async function buildCommand(targets: string[], flags: BuildFlags): Promise<number> {
  const t0 = performance.now();
  const stamped = stampedNoOp(targets, flags);
  if (stamped) {
    const reporter = new CliReporter({ ...reporterBase(flags), total: stamped.length });
    const counts = { ran: 0, cached: 0, fresh: stamped.length, failed: 0, skipped: 0 };
    reporter.finish(counts, performance.now() - t0);
    if (flags.profile) Deno.writeTextFileSync(flags.profile, chromeTrace([]));
    if (flags.json) {
      out(JSON.stringify({
        tasks: stamped.map((id) => ({ id, status: "fresh", durationMs: 0 })),
        ...counts,
      }));
    }
    return EXIT.ok;
  }
  const graph = await loadGraph(flags.file);
  const base = {
    targets,
    jobs: flags.jobs ?? navigator.hardwareConcurrency ?? 2,
    keepGoing: flags.keepGoing ?? false,
    store: new LocalStore(defaultCacheDir()),
    runner: new LocalProcessRunner(),
  };
  if (flags.dryRun) {
    const plan = await planBuild(graph, base);
    if (flags.json) {
      out(JSON.stringify({
        tasks: plan.map((p) => ({ id: p.id, decision: p.plan.decision, reasons: p.plan.reasons })),
      }));
      return EXIT.ok;
    }
    const words = { fresh: "fresh", restore: "would restore from cache", run: "would run" };
    for (const { id, plan: p } of plan) {
      const why = p.reasons.length ? `: ${p.reasons.join("; ")}` : "";
      out(`${id}: ${words[p.decision]}${why}`);
    }
    return EXIT.ok;
  }

  const controller = new AbortController();
  const onInt = () => controller.abort();
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onInt);
  const reporter = new CliReporter({ ...reporterBase(flags), total: graph.order.length });
  try {
    const summary = await runBuild(graph, { ...base, reporter, signal: controller.signal });
    reporter.finish(summary.counts, summary.durationMs);
    if (flags.profile) Deno.writeTextFileSync(flags.profile, chromeTrace(reporter.spans));
    if (flags.json) {
      const { ran, cached, fresh, failed } = summary.counts;
      out(JSON.stringify({
        tasks: summary.outcomes.map((o) => ({
          id: o.id,
          status: o.status,
          durationMs: Math.round(o.durationMs * 10) / 10,
        })),
        ran,
        cached,
        fresh,
        failed,
      }));
    }
    if (summary.interrupted) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`Interrupted after ${formatDuration(summary.durationMs)}\n`),
      );
      return EXIT.interrupted;
    }
    return summary.counts.failed > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onInt);
  }
}
