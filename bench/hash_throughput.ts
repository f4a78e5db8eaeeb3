/**
 * SHA-256 throughput on the 2 GiB random file: kiln's `hashFile` in a spawned `deno run` process
 * (bench/hash_file_cli.ts) against `openssl dgst -sha256`. Both are timed as whole processes and
 * must print the same digest; the time of `hashFile` alone, as the script reports it, is kept
 * too. The file is read once before timing, so both read it from the page cache.
 *
 * @module
 */

import { join } from "node:path";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { BENCH_DIR, REPO_ROOT } from "./paths.ts";
import type { ProcessSpec, TimedRun } from "./run_process.ts";
import { summarize } from "./stats.ts";
import { measureRuns, type RunPlan } from "./timed_runs.ts";
import { BIG_SIZE, ensureRandomFile } from "./random_file.ts";

/** Scenario name of the hashing rows. */
export const HASH_SCENARIO = "sha256-2GiB";

/** Scenario name of the in-script `hashFile` row (process start-up excluded). */
export const HASH_ONLY_SCENARIO = "sha256-2GiB (hashFile only)";

/** GiB per second for `bytes` read in `ms` milliseconds. */
export function gibPerSecond(bytes: number, ms: number): number {
  return bytes / 1024 ** 3 / (ms / 1000);
}

function hexDigest(text: string): string | null {
  return text.match(/\b[0-9a-f]{64}\b/)?.[0] ?? null;
}

/**
 * Measures both hashers on the 2 GiB file; returns rows for `openssl`, `kiln` (whole process)
 * and `kiln` with {@link HASH_ONLY_SCENARIO}.
 */
export async function benchHash(
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const file = await ensureRandomFile(undefined, undefined, log);
  const base = { group: "hash" as const, n: null, scenario: HASH_SCENARIO };
  const digests = new Map<string, string>();
  const inScript: number[] = [];
  const specs: [string, ProcessSpec, (r: TimedRun) => string | null][] = [
    [
      "openssl",
      { cmd: "openssl", args: ["dgst", "-sha256", file], cwd: REPO_ROOT },
      (r) => {
        const d = hexDigest(r.stdout);
        if (!d) return `no digest in openssl output: ${r.tail}`;
        digests.set("openssl", d);
        return null;
      },
    ],
    [
      "kiln",
      {
        cmd: Deno.execPath(),
        args: ["run", "-A", join(BENCH_DIR, "hash_file_cli.ts"), file],
        cwd: REPO_ROOT,
      },
      (r) => {
        const line = r.stdout.trim().split("\n").pop() ?? "";
        let parsed: { digest?: string; size?: number; ms?: number };
        try {
          parsed = JSON.parse(line);
        } catch {
          return `unexpected output: ${r.tail}`;
        }
        if (parsed.size !== BIG_SIZE) return `hashed ${parsed.size} bytes, expected ${BIG_SIZE}`;
        if (!parsed.digest) return "no digest";
        digests.set("kiln", parsed.digest);
        inScript.push(parsed.ms ?? NaN);
        return null;
      },
    ],
  ];
  const results: Measurement[] = [];
  for (const [tool, spec, verify] of specs) {
    const note = (ms: number) => `${gibPerSecond(BIG_SIZE, ms).toFixed(2)} GiB/s`;
    try {
      inScript.length = 0;
      const r = await measureRuns(spec, { prepare() {}, verify }, plan);
      results.push({
        ...base,
        tool,
        medianMs: r.median,
        minMs: r.min,
        maxMs: r.max,
        samples: r.samples,
        note: note(r.median),
      });
      log(`${tool} ${HASH_SCENARIO}: median ${r.median.toFixed(0)} ms (${note(r.median)})`);
      if (tool === "kiln") {
        // warm-up runs come first; keep the timed ones
        const timed = inScript.slice(-r.samples.length);
        const s = summarize(timed);
        results.push({
          ...base,
          tool,
          scenario: HASH_ONLY_SCENARIO,
          medianMs: s.median,
          minMs: s.min,
          maxMs: s.max,
          samples: timed,
          note: `${note(s.median)}, timed inside the script`,
        });
      }
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      results.push(failedMeasurement({ ...base, tool }, msg));
      log(`${tool} ${HASH_SCENARIO}: FAILED ${msg}`);
    }
  }
  const [a, b] = [digests.get("openssl"), digests.get("kiln")];
  if (a && b && a !== b) {
    const i = results.findIndex((m) => m.tool === "kiln" && m.scenario === HASH_SCENARIO);
    if (i >= 0) {
      results[i] = failedMeasurement({ ...base, tool: "kiln" }, `digest ${b} != openssl's ${a}`);
    }
  }
  return results;
}
