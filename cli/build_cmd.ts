/**
 * `kiln build [targets...]`: runs the build, or with `--dry-run` prints the plan. Sets up the
 * cache tiers (local, and a shared remote one when configured), the hybrid builder (which tasks
 * run here and which on GitHub Actions) and the reporter (GitHub Actions groups and summary in
 * CI); each is loaded only when a build is not a no-op.
 *
 * @module
 */

import { LocalProcessRunner } from "../builders/local.ts";
import { type BuildOptions, planBuild, runBuild } from "../engine/build.ts";
import { ConfigError } from "../engine/failure.ts";
import { defaultCacheDir, LocalStore } from "../engine/store.ts";
import type { CacheStore } from "../engine/store.ts";
import { type Graph, selectTasks } from "../engine/graph.ts";
import { loadGraph } from "./load.ts";
import { EXIT } from "./exit.ts";
import { resolve } from "../engine/path.ts";
import { type BuildFlags, parseDuration } from "./build_flags.ts";
import { noOpBuild } from "./no_op.ts";
import { chromeTrace } from "./profile.ts";
import { CliReporter, formatDuration, reporterOptions } from "./reporter.ts";
import type { HybridDelegator } from "../builders/hybrid.ts";

const enc = new TextEncoder();
const out = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));
const err = (s: string) => Deno.stderr.writeSync(enc.encode(s + "\n"));
const env = (n: string) => Deno.env.get(n);

/** The build's cache, and whether it reaches a shared remote one (delegation needs one). */
interface OpenedStore {
  readonly store: CacheStore;
  readonly shared: boolean;
}

/** The cache: the local store, tiered with the remote one when one is configured. */
async function openStore(flags: BuildFlags, warn: (m: string) => void): Promise<OpenedStore> {
  const local = new LocalStore(defaultCacheDir());
  const wanted = flags.remoteCache || flags.cache || env("KILN_REMOTE_CACHE") ||
    env("KILN_CACHE_MODE");
  if (!wanted) return { store: local, shared: false }; // the remote modules are not even loaded
  const { openCacheStore, resolveRemoteSettings, TieredStore } = await import("../remote/mod.ts");
  const settings = resolveRemoteSettings(
    { remoteCache: flags.remoteCache, cache: flags.cache },
    env,
  );
  const store = openCacheStore(local, settings, warn);
  return { store, shared: store instanceof TieredStore && store.remoteActive };
}

/**
 * `KILN_EXPECTED_KEYS` (set by the build workflow from a delegating machine's `keys` input): task
 * id -> the key that machine computed, stored as an alias of this build's result.
 */
function expectedKeys(graph: Graph): Map<string, string> | undefined {
  const text = env("KILN_EXPECTED_KEYS")?.trim();
  if (!text || text === "{}") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      `KILN_EXPECTED_KEYS is not a JSON object of task ids to keys; unset it or pass {"id":"<sha256>"}`,
    );
  }
  const keys = new Map<string, string>();
  for (const [id, key] of Object.entries(parsed)) {
    if (!graph.tasks.has(id) || typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key)) {
      throw new ConfigError(
        `KILN_EXPECTED_KEYS names ${JSON.stringify(id)} with key ${
          JSON.stringify(key)
        }: expected a task of this graph and a SHA-256 key`,
      );
    }
    keys.set(id, key);
  }
  return keys;
}

/** The hybrid builder: where each task that must run does (see `builders/hybrid.ts`). */
async function hybridBuilder(
  graph: Graph,
  targets: readonly string[],
  flags: BuildFlags,
  sharedCache: boolean,
  report: {
    warn: (m: string) => void;
    note: (m: string) => void;
    progress?: (id: string, t: string) => void;
  },
): Promise<HybridDelegator> {
  const { HybridDelegator } = await import("../builders/hybrid.ts");
  const { parseBuilderMode, neededTools } = await import("../builders/placement.ts");
  const { gitHubCloud, gitHubConfigured } = await import("../builders/github_cloud.ts");
  const { inCi } = await import("../builders/ci_env.ts");
  const mode = parseBuilderMode(flags.builder);
  const timeoutMs = cloudTimeout(flags);
  // Results of delegated tasks come back through the remote cache, so without one there is
  // nothing to delegate to. In CI, `auto` never delegates (the job is the cloud builder).
  const usable = gitHubConfigured(env) && sharedCache && (mode === "cloud" || !inCi(env));
  const cloudHint = !gitHubConfigured(env)
    ? "set GITHUB_TOKEN (and KILN_REMOTE_CACHE with KILN_REMOTE_CACHE_KEY) to build on GitHub Actions"
    : "set KILN_REMOTE_CACHE and KILN_REMOTE_CACHE_KEY: delegated results come back through it";
  return new HybridDelegator({
    graph,
    targets,
    mode,
    cloud: usable
      ? gitHubCloud({ root: graph.root, graph, env, timeoutMs, note: report.note })
      : null,
    cloudHint,
    facts: async () => {
      const { gatherHostFacts } = await import("../builders/host_facts.ts");
      return await gatherHostFacts({
        versions: false,
        tools: [],
        files: [],
        extraTools: neededTools(graph.tasks.values()),
        dir: graph.root,
      });
    },
    warn: report.warn,
    note: report.note,
    progress: report.progress,
  });
}

/** `--cloud-timeout` in milliseconds (undefined: the default). */
function cloudTimeout(flags: BuildFlags): number | undefined {
  if (flags.cloudTimeout === undefined) return undefined;
  const ms = parseDuration(flags.cloudTimeout);
  if (ms === null) {
    throw new ConfigError(
      `Bad --cloud-timeout value ${
        JSON.stringify(flags.cloudTimeout)
      }: use e.g. 90m, 4h30m or 600s`,
    );
  }
  return ms;
}

/** True when a task `targets` select declares what it needs of its host. */
function declaresNeeds(graph: Graph, targets: readonly string[]): boolean {
  return selectTasks(graph, targets).some((id) => graph.tasks.get(id)!.needs !== undefined);
}

/** Prints the `--dry-run` plan (with where each task that would run runs). */
async function dryRun(
  graph: Graph,
  base: BuildOptions,
  hybrid: HybridDelegator | undefined,
  flags: BuildFlags,
): Promise<number> {
  const plan = await planBuild(graph, base);
  const places = await Promise.all(plan.map(async (p) => {
    const task = graph.tasks.get(p.id)!;
    if (p.plan.decision !== "run" || !task.needs || !hybrid) return null;
    return await hybrid.placement(task);
  }));
  if (flags.json) {
    out(JSON.stringify({
      tasks: plan.map((p, i) => {
        const pl = places[i];
        return {
          id: p.id,
          decision: p.plan.decision,
          reasons: p.plan.reasons,
          ...(pl && "reason" in pl ? { placement: { where: "nowhere", why: pl.message } } : {}),
          ...(pl && !("reason" in pl) ? { placement: { where: pl.where, why: pl.why } } : {}),
        };
      }),
    }));
    return EXIT.ok;
  }
  const { placementSuffix } = await import("../builders/placement.ts");
  const words = { fresh: "fresh", restore: "would restore from cache", run: "would run" };
  for (const [i, { id, plan: p }] of plan.entries()) {
    const pl = places[i];
    const where = !pl ? "" : "reason" in pl ? ` (cannot run: ${pl.message})` : placementSuffix(pl);
    const why = p.reasons.length ? `: ${p.reasons.join("; ")}` : "";
    out(`${id}: ${words[p.decision]}${where}${why}`);
  }
  return EXIT.ok;
}

/** Runs `kiln build`; returns the exit code. */
export async function buildCommand(targets: string[], flags: BuildFlags): Promise<number> {
  // The flag is the env var's value: signing tasks declare the variable, so it enters their keys
  // and the build stamp the same way.
  if (flags.signingKey) Deno.env.set("KILN_SIGNING_KEY_FILE", resolve(flags.signingKey));
  const noOp = noOpBuild(targets, flags);
  if (noOp !== null) return noOp;
  const graph = await loadGraph(flags.file, targets);
  const aliases = expectedKeys(graph);
  // Bad values are errors even when no task would be placed.
  if (flags.builder !== undefined) {
    (await import("../builders/placement.ts")).parseBuilderMode(flags.builder);
  }
  cloudTimeout(flags);

  if (flags.dryRun) {
    const note = (m: string) => err(`warning: ${m}`);
    const { store, shared } = await openStore(flags, note);
    const hybrid = declaresNeeds(graph, targets)
      ? await hybridBuilder(graph, targets, flags, shared, { warn: note, note })
      : undefined;
    const base = { targets, jobs: 1, keepGoing: false, store, runner: new LocalProcessRunner() };
    return await dryRun(graph, base, hybrid, flags);
  }

  const options = reporterOptions(flags, graph.order.length);
  // GitHub's reporter is loaded only in GitHub Actions, the hybrid builder only when a selected
  // task declares needs: a build of plain tasks (a restore of 1,000) pays for neither.
  const reporter = env("GITHUB_ACTIONS")
    ? (await import("./github_reporter.ts")).ciReporter(options, graph)
    : new CliReporter(options);
  const warn = (m: string) => reporter.warn?.(m);
  const { store, shared } = await openStore(flags, warn);
  const delegator = declaresNeeds(graph, targets)
    ? await hybridBuilder(graph, targets, flags, shared, {
      warn,
      note: (m) => err(m),
      progress: (id, text) => reporter.taskProgress?.(id, text),
    })
    : undefined;
  const controller = new AbortController();
  const onInt = () => controller.abort();
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onInt);
  try {
    const summary = await runBuild(graph, {
      targets,
      jobs: flags.jobs ?? navigator.hardwareConcurrency ?? 2,
      keepGoing: flags.keepGoing ?? false,
      store,
      runner: new LocalProcessRunner(),
      reporter,
      signal: controller.signal,
      delegator,
      alsoStoreAs: aliases,
    });
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
      err(`Interrupted after ${formatDuration(summary.durationMs)}`);
      return EXIT.interrupted;
    }
    return summary.counts.failed > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onInt);
  }
}
