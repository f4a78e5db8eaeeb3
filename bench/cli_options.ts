/**
 * Command-line flags of `deno task bench`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GRAPH_SCENARIOS, type GraphScenario } from "./graph_bench.ts";

/** Parts of the benchmark besides the graph tools, selectable with `--only`. */
export const EXTRA_PARTS = ["hash", "big", "fetch", "demo", "apt"] as const;

/** Graph tools, selectable with `--only`. */
export const TOOL_NAMES = ["kiln", "make", "ninja", "deno-task"] as const;

/** Parsed options. */
export interface BenchOptions {
  readonly runs: number;
  readonly warmup: number;
  /** Timed runs of a scenario whose first run took longer than `slowMs`. */
  readonly slowRuns: number;
  readonly slowMs: number;
  readonly timeoutMs: number;
  readonly sizes: readonly number[];
  /** Selected tools and parts ({@link TOOL_NAMES} and {@link EXTRA_PARTS}). */
  readonly only: ReadonlySet<string>;
  readonly scenarios: readonly GraphScenario[];
  /** Where to save the results as JSON, if anywhere. */
  readonly json: string | null;
  readonly help: boolean;
}

/** Usage text for `--help`. */
export const USAGE = `Usage: deno task bench [options]

Times whole build processes (wall clock, median of several runs) of kiln against make, ninja and
deno task on a synthetic task graph, plus SHA-256 throughput and a 2 GiB restore.

Options:
  --runs N              timed runs per scenario (default 5)
  --warmup N            untimed runs before them (default 1)
  --slow-runs N         timed runs when the first run took over --slow-ms (default 3)
  --slow-ms MS          see --slow-runs (default 10000)
  --timeout S           kill a single run after S seconds (default 600)
  --sizes A,B           graph sizes in tasks (default 1000,10000)
  --only X,Y            only these of: ${[...TOOL_NAMES, ...EXTRA_PARTS].join(", ")}
                        (hash: SHA-256 throughput; big: 2 GiB restore; fetch: 2 GiB
                        loopback download vs curl; demo: the OS-image pipeline on
                        the demo distro, cold and no-op; apt: an APT index of 1,000
                        packages vs apt-ftparchive + gpg, then adding one)
  --scenarios X,Y       only these of: ${GRAPH_SCENARIOS.join(", ")}
  --json FILE           also save the results as JSON
  -h, --help            print this help
`;

function list(value: string | undefined, fallback: readonly string[]): string[] {
  return value === undefined
    ? [...fallback]
    : value.split(",").map((s) => s.trim()).filter((s) => s);
}

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new TypeError(`--${name} needs a whole number of at least ${min}, got ${value}`);
  }
  return n;
}

/**
 * Parses the benchmark's flags.
 *
 * @throws {TypeError} on an unknown flag or a bad value, with a message for the user
 * @example
 * ```ts
 * const o = parseBenchOptions(["--runs", "3", "--sizes", "1000", "--only", "kiln,ninja"]);
 * ```
 */
export function parseBenchOptions(args: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      runs: { type: "string" },
      warmup: { type: "string" },
      "slow-runs": { type: "string" },
      "slow-ms": { type: "string" },
      timeout: { type: "string" },
      sizes: { type: "string" },
      only: { type: "string" },
      scenarios: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  const sizes = list(values.sizes, ["1000", "10000"]).map((s) => {
    const n = Number(s.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`--sizes: bad size ${s}`);
    return n;
  });
  const known = [...TOOL_NAMES, ...EXTRA_PARTS] as readonly string[];
  const only = list(values.only, known);
  for (const o of only) {
    if (!known.includes(o)) {
      throw new TypeError(`--only: unknown ${o}; pick from ${known.join(", ")}`);
    }
  }
  const scenarios = list(values.scenarios, GRAPH_SCENARIOS);
  for (const s of scenarios) {
    if (!(GRAPH_SCENARIOS as readonly string[]).includes(s)) {
      throw new TypeError(`--scenarios: unknown ${s}; pick from ${GRAPH_SCENARIOS.join(", ")}`);
    }
  }
  return {
    runs: count("runs", values.runs, 5, 1),
    warmup: count("warmup", values.warmup, 1, 0),
    slowRuns: count("slow-runs", values["slow-runs"], 3, 1),
    slowMs: count("slow-ms", values["slow-ms"], 10_000, 0),
    timeoutMs: count("timeout", values.timeout, 600, 1) * 1000,
    sizes,
    only: new Set(only),
    // always in the canonical order, whatever order they were given in
    scenarios: GRAPH_SCENARIOS.filter((s) => scenarios.includes(s)),
    json: values.json ?? null,
    help: values.help ?? false,
  };
}
