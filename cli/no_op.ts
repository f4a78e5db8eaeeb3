/**
 * The no-op fast path of `kiln build`: when the build stamp (see `engine/stamp.ts`) says nothing
 * changed since the last complete build of the same targets, report every task fresh. This
 * module imports only what that needs, so a no-op build does not load the engine.
 *
 * @module
 */

import { dirname, join, resolve } from "../engine/path.ts";
import { checkStamp } from "../engine/stamp.ts";
import { statFile } from "../engine/stat.ts";
import { yamlConfigId } from "../engine/yaml_config.ts";
import type { BuildFlags } from "./build_flags.ts";
import { EXIT } from "./exit.ts";
import { chromeTrace } from "./profile.ts";
import { CliReporter, reporterOptions } from "./reporter.ts";

/** The repository whose `tasks/mod.ts` registers the TypeScript pipelines. */
export const PIPELINES_ROOT: string = resolve(new URL("..", import.meta.url).pathname);

/**
 * The stamp identity of the TypeScript pipelines rooted at `root`. Their content is recorded as
 * the signatures of their modules and data files (`TaskSet.configFiles`), not as text.
 */
export function tsConfigId(root: string): string {
  return `ts ${root}/tasks/mod.ts`;
}

/** The absolute YAML task file a command uses, or `null` for the TypeScript pipelines. */
export function yamlTaskFile(file: string | undefined): string | null {
  if (file) return resolve(file);
  const local = join(Deno.cwd(), "kiln.yaml");
  return statFile(local) ? local : null;
}

/**
 * Reports a stamped no-op build and returns its exit code, or returns `null` when the full
 * build must run (no stamp, a change, `--dry-run`/`--explain`).
 */
export function noOpBuild(targets: string[], flags: BuildFlags): number | null {
  if (flags.dryRun || flags.explain) return null;
  const t0 = performance.now();
  const file = yamlTaskFile(flags.file);
  let root = PIPELINES_ROOT;
  let config = tsConfigId(PIPELINES_ROOT);
  if (file) {
    try {
      config = yamlConfigId(file, Deno.readTextFileSync(file));
    } catch {
      return null; // the full path reports the error
    }
    root = dirname(file);
  }
  const tasks = checkStamp(root, { config, targets }, (n) => Deno.env.get(n));
  if (!tasks) return null;
  const reporter = new CliReporter(reporterOptions(flags, tasks.length));
  const counts = { ran: 0, cached: 0, fresh: tasks.length, failed: 0, skipped: 0 };
  reporter.finish(counts, performance.now() - t0);
  if (flags.profile) Deno.writeTextFileSync(flags.profile, chromeTrace([]));
  if (flags.json) {
    const json = JSON.stringify({
      tasks: tasks.map((id) => ({ id, status: "fresh", durationMs: 0 })),
      ...counts,
    });
    Deno.stdout.writeSync(new TextEncoder().encode(json + "\n"));
  }
  return EXIT.ok;
}
