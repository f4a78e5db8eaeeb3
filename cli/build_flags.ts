/**
 * The flags of `kiln build`, declared once. Commander registers them for help and validation;
 * {@link parseBuildArgs} reads the same table to start a plain `kiln build` without loading
 * commander, because commander (through Node compatibility) costs ~30 ms of start-up and a
 * no-op build of 1,000 tasks has a 50 ms budget. Anything unusual (help, an unknown flag, a bad
 * value) returns `null` and goes to commander, so messages and behaviour stay commander's.
 *
 * @module
 */

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
  signingKey?: string;
  builder?: string;
  remoteCache?: string;
  cache?: string;
  cloudTimeout?: string;
}

/** One `kiln build` flag. */
export interface BuildOptionSpec {
  readonly short?: string;
  readonly long: string;
  readonly key: keyof BuildFlags;
  /** The value's name in help, when the flag takes one. */
  readonly value?: string;
  readonly help: string;
}

/** Every `kiln build` flag. */
export const BUILD_OPTIONS: readonly BuildOptionSpec[] = [
  {
    short: "-j",
    long: "--jobs",
    key: "jobs",
    value: "n",
    help: "commands run at once (default: number of cores)",
  },
  { short: "-k", long: "--keep-going", key: "keepGoing", help: "keep building after a failure" },
  {
    short: "-f",
    long: "--file",
    key: "file",
    value: "path",
    help: "task file in YAML (default: ./kiln.yaml, else the pipelines in tasks/)",
  },
  {
    short: "-n",
    long: "--dry-run",
    key: "dryRun",
    help: "print the plan: each task runs, is restored, or is fresh, and why",
  },
  { long: "--explain", key: "explain", help: "print why each task ran (fingerprint diff)" },
  {
    long: "--profile",
    key: "profile",
    value: "file",
    help: "write a Chrome trace (open it in Perfetto)",
  },
  { long: "--json", key: "json", help: "print a JSON summary on stdout" },
  { long: "--replay", key: "replay", help: "reprint the logs of tasks restored from the cache" },
  {
    long: "--signing-key",
    key: "signingKey",
    value: "file",
    help: "armored private key that signs releases (same as KILN_SIGNING_KEY_FILE)",
  },
  {
    long: "--builder",
    key: "builder",
    value: "mode",
    help: "where tasks that need a VM run: auto (default), local or cloud (GitHub Actions)",
  },
  {
    long: "--remote-cache",
    key: "remoteCache",
    value: "url",
    help: "shared cache speaking Bazel's HTTP layout (same as KILN_REMOTE_CACHE)",
  },
  {
    long: "--cache",
    key: "cache",
    value: "modes",
    help: "what each cache tier may do, e.g. local:rw,remote:r (same as KILN_CACHE_MODE)",
  },
  {
    long: "--cloud-timeout",
    key: "cloudTimeout",
    value: "duration",
    help: "longest wait for a delegated run, e.g. 90m or 4h30m (default 4h30m)",
  },
];

/**
 * Parses a duration such as `90s`, `45m`, `4h30m` or `2h`; milliseconds, or `null` when `v` is
 * not one.
 */
export function parseDuration(v: string): number | null {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v.trim());
  if (!m || v.trim() === "") return null;
  const [h, min, sec] = [m[1], m[2], m[3]].map((x) => Number(x ?? 0));
  const ms = ((h * 60 + min) * 60 + sec) * 1000;
  return ms > 0 ? ms : null;
}

/** Parses `-j` values: a whole number of at least 1, else `null`. */
export function parseJobs(v: string): number | null {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && /^\d+$/.test(v) ? n : null;
}

/**
 * Parses the arguments after `build` when they are plain (known flags, valid values, task ids);
 * `null` otherwise, for commander to handle.
 */
export function parseBuildArgs(
  args: readonly string[],
): { targets: string[]; flags: BuildFlags } | null {
  const targets: string[] = [];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("-")) {
      targets.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const spec = BUILD_OPTIONS.find((o) => o.short === name || o.long === name);
    if (!spec) return null;
    if (!spec.value) {
      if (eq > 0 && a.startsWith("--")) return null;
      flags[spec.key] = true;
      continue;
    }
    const v = a.startsWith("--") && eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined || v.startsWith("-")) return null;
    if (spec.key === "jobs") {
      const n = parseJobs(v);
      if (n === null) return null;
      flags.jobs = n;
    } else flags[spec.key] = v;
  }
  return { targets, flags: flags as BuildFlags };
}
