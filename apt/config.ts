/**
 * What an APT repository publishes: its suites, each with components and architectures, the
 * `Release` fields they share, and where the repository and kiln's index cache live. Checked
 * once, before anything is read or written, so a typo fails with one clear line.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/** The repository configuration is unusable. */
export const APT_CONFIG_INVALID = "apt-config-invalid";

/** One suite (`dists/<name>/`). */
export interface AptSuiteConfig {
  /** The `Suite:` and folder name, e.g. `stable`. */
  readonly name: string;
  /** The `Codename:`, e.g. `bookworm`; default the name. `dists/<codename>` links to the suite. */
  readonly codename?: string;
  /** Components, e.g. `["main", "contrib"]`. */
  readonly components: readonly string[];
  /** Binary architectures, e.g. `["amd64", "arm64"]`; `all` packages are listed in each. */
  readonly architectures: readonly string[];
  /** `Version:` of the suite, if any, e.g. `12.5`. */
  readonly version?: string;
  /** `Description:`; default the repository's. */
  readonly description?: string;
}

/** A repository. */
export interface AptRepoConfig {
  /** The published folder: `pool/` and `dists/` are created in it. */
  readonly root: string;
  /** kiln's private cache of pool file hashes and compressed index chunks (safe to delete). */
  readonly stateDir: string;
  /** `Origin:`, e.g. `kiln`. */
  readonly origin: string;
  /** `Label:`; default the origin. */
  readonly label?: string;
  /** `Description:` of every suite that has none of its own. */
  readonly description?: string;
  readonly suites: readonly AptSuiteConfig[];
  /** `Date:` as Unix seconds (SOURCE_DATE_EPOCH); default the current time. */
  readonly sourceDateEpoch?: number;
  /** When set, `Valid-Until:` is this many days after `Date:`. */
  readonly validUntilDays?: number;
  /** Superseded `by-hash/` files kept per folder and hash, for clients mid-update; default 3. */
  readonly byHashKeep?: number;
  /** Link `dists/<codename>` to `dists/<suite>` when they differ; default true. */
  readonly codenameLinks?: boolean;
  /** Pool files read at once while indexing; default the number of cores. */
  readonly parallelism?: number;
  /** The `xz` program; default `xz` from PATH. */
  readonly xzTool?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;
/** Release field values are single lines. */
const LINE = /^[^\n\r]*$/;

function bad(message: string): Failure {
  return failure(APT_CONFIG_INVALID, `APT repository config: ${message}`);
}

function q(s: unknown): string {
  return JSON.stringify(s);
}

/**
 * Checks a configuration; the first problem found, or null.
 *
 * @example
 * ```ts
 * const problem = checkAptConfig({ root: "dist/apt", stateDir: ".kiln/apt", origin: "kiln",
 *   suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }] });
 * ```
 */
export function checkAptConfig(c: AptRepoConfig): Failure | null {
  if (!c.root) return bad(`"root" is empty; set it to the repository folder`);
  if (!c.stateDir) return bad(`"stateDir" is empty; set it to a private cache folder`);
  for (
    const [key, v] of [["origin", c.origin], ["label", c.label], ["description", c.description]]
  ) {
    if (v !== undefined && !LINE.test(v)) return bad(`${q(key)} must be a single line`);
  }
  if (!c.origin) return bad(`"origin" is empty; set it, e.g. to your project's name`);
  if (!c.suites.length) return bad(`no suites; add one such as { name: "stable", ... }`);
  const dirs = new Set<string>();
  for (const s of c.suites) {
    const where = `suite ${q(s.name)}`;
    if (!NAME.test(s.name)) {
      return bad(`suite name ${q(s.name)} is not a valid name such as "stable"`);
    }
    const codename = s.codename ?? s.name;
    if (!NAME.test(codename)) return bad(`${where}: codename ${q(codename)} is not a valid name`);
    for (const d of new Set([s.name, codename])) {
      if (dirs.has(d)) return bad(`${where}: ${q(d)} names two suites; names must be unique`);
      dirs.add(d);
    }
    if (!s.components.length) return bad(`${where} has no components; add e.g. "main"`);
    for (const comp of s.components) {
      if (!NAME.test(comp)) return bad(`${where}: component ${q(comp)} is not a valid name`);
    }
    if (new Set(s.components).size !== s.components.length) {
      return bad(`${where} lists a component twice`);
    }
    if (!s.architectures.length) return bad(`${where} has no architectures; add e.g. "amd64"`);
    for (const a of s.architectures) {
      if (!ARCH.test(a) || a === "all" || a === "source") {
        return bad(
          `${where}: architecture ${q(a)} is not a binary architecture such as "amd64" ` +
            `("all" packages are listed under every architecture)`,
        );
      }
    }
    if (new Set(s.architectures).size !== s.architectures.length) {
      return bad(`${where} lists an architecture twice`);
    }
    for (const [key, v] of [["version", s.version], ["description", s.description]]) {
      if (v !== undefined && !LINE.test(v)) return bad(`${where}: ${q(key)} must be one line`);
    }
  }
  if (
    c.sourceDateEpoch !== undefined &&
    (!Number.isSafeInteger(c.sourceDateEpoch) || c.sourceDateEpoch < 0)
  ) {
    return bad(`"sourceDateEpoch" must be whole seconds since 1970, got ${q(c.sourceDateEpoch)}`);
  }
  if (c.validUntilDays !== undefined && !(c.validUntilDays > 0)) {
    return bad(`"validUntilDays" must be a positive number of days, got ${q(c.validUntilDays)}`);
  }
  if (c.byHashKeep !== undefined && !(Number.isInteger(c.byHashKeep) && c.byHashKeep >= 0)) {
    return bad(`"byHashKeep" must be a whole number, got ${q(c.byHashKeep)}`);
  }
  if (c.parallelism !== undefined && !(Number.isInteger(c.parallelism) && c.parallelism >= 1)) {
    return bad(`"parallelism" must be at least 1, got ${q(c.parallelism)}`);
  }
  return null;
}

/** Reads SOURCE_DATE_EPOCH from an environment map, for {@link AptRepoConfig.sourceDateEpoch}. */
export function sourceDateEpoch(
  env: Readonly<Record<string, string | undefined>>,
): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}
