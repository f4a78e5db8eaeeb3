/**
 * `kiln build [targets...]`: runs the build, or with `--dry-run` prints the plan.
 *
 * @module
 */

import { LocalProcessRunner } from "../builders/local.ts";
import { planBuild, runBuild } from "../engine/build.ts";
import { defaultCacheDir, LocalStore } from "../engine/store.ts";
import { loadGraph } from "./load.ts";
import { EXIT } from "./exit.ts";
import { resolve } from "../engine/path.ts";
import type { BuildFlags } from "./build_flags.ts";
import { noOpBuild } from "./no_op.ts";
import { chromeTrace } from "./profile.ts";
import { formatDuration, reporterOptions } from "./reporter.ts";

const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

/** Runs `kiln build`; returns the exit code. */
export async function buildCommand(targets: string[], flags: BuildFlags): Promise<number> {
  // The flag is the env var's value: signing tasks declare the variable, so it enters their keys
  // and the build stamp the same way.
  if (flags.signingKey) Deno.env.set("KILN_SIGNING_KEY_FILE", resolve(flags.signingKey));
  const noOp = noOpBuild(targets, flags);
  if (noOp !== null) return noOp;
  const graph = await loadGraph(flags.file, targets);
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
  // Loaded here, not at start-up: a no-op build (above) never reports tasks.
  const { ciReporter } = await import("./github_reporter.ts");
  const reporter = ciReporter(reporterOptions(flags, graph.order.length), graph);
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
