/**
 * Remote cache settings from flags and the environment.
 *
 * - URL: `--remote-cache URL`, else `KILN_REMOTE_CACHE` (http or https; `user:password@` in it
 *   is sent as Basic auth).
 * - Modes: `--cache`, else `KILN_CACHE_MODE`: a comma list of `local:<a>` and `remote:<a>`,
 *   with `<a>` one of `rw`, `r` or `off`, e.g. `local:rw,remote:r`. Unset parts take their
 *   defaults: `local:rw`; `remote:rw` when a URL is set, except `remote:r` in a pull-request
 *   build on CI; `remote:off` without a URL.
 * - `KILN_REMOTE_CACHE_KEY`: the secret that signs and verifies entries. Without it the remote
 *   cache is off, with one warning: an unsigned entry could be anyone's bytes.
 * - `KILN_REMOTE_CACHE_HEADER`: one `Name: value` header sent with every request (a token);
 *   never printed.
 * - `KILN_REMOTE_CACHE_JOBS` (requests at once, default 8) and `KILN_REMOTE_CACHE_TIMEOUT`
 *   (seconds without progress before a request fails, default 60).
 *
 * Pull-request builds only read by default: a pull request runs code from a branch nobody
 * reviewed yet, and a result it uploaded would be restored by the main branch's builds and
 * releases (cache poisoning). An explicit `remote:rw` overrides this.
 *
 * @example
 * ```ts
 * const s = resolveRemoteSettings({ remoteCache: "http://cache:9090/", cache: "remote:r" },
 *   (n) => Deno.env.get(n));
 * s.remote; // "r"
 * ```
 *
 * @module
 */

import { pullRequestBuild } from "../builders/ci_env.ts";
import { ConfigError } from "../engine/failure.ts";

/** What a cache tier may do. */
export type CacheAccess = "rw" | "r" | "off";

/** The `--cache` modes; a part left out is `undefined`. */
export interface CacheModes {
  readonly local?: CacheAccess;
  readonly remote?: CacheAccess;
}

/** The command-line flags that concern the cache. */
export interface CacheFlags {
  /** `--remote-cache URL`. */
  readonly remoteCache?: string;
  /** `--cache MODES`. */
  readonly cache?: string;
}

/** Everything {@link openCacheStore} (in `mod.ts`) needs. */
export interface RemoteSettings {
  readonly local: CacheAccess;
  readonly remote: CacheAccess;
  /** Base URL (may hold credentials: never print it; {@link HttpCache} redacts it). */
  readonly url: string | null;
  readonly secret: string | null;
  /** Extra request headers (credentials: never print them). */
  readonly headers: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly idleTimeoutMs: number;
  /** Why the remote is read-only by default here (a pull-request build), else `null`. */
  readonly readOnlyReason: string | null;
  /** A warning to show once, e.g. why the remote cache is off. */
  readonly warning: string | null;
}

const MODE_FORM = "local:rw|r|off,remote:rw|r|off (e.g. local:rw,remote:r)";

/**
 * Parses a `--cache` value.
 *
 * @throws {ConfigError} naming the value and the accepted form
 */
export function parseCacheModes(text: string, source = "--cache"): CacheModes {
  const out: { local?: CacheAccess; remote?: CacheAccess } = {};
  const bad = () =>
    new ConfigError(`Bad ${source} value ${JSON.stringify(text)}: expected ${MODE_FORM}`);
  const parts = text.split(",").map((p) => p.trim());
  if (!text.trim() || parts.some((p) => !p)) throw bad();
  for (const part of parts) {
    const m = /^(local|remote):(rw|r|off)$/.exec(part);
    if (!m) throw bad();
    const tier = m[1] as "local" | "remote";
    if (out[tier] !== undefined) throw bad();
    out[tier] = m[2] as CacheAccess;
  }
  return out;
}

function positive(env: (n: string) => string | undefined, name: string, dflt: number): number {
  const v = env(name);
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ConfigError(`Bad ${name} value ${JSON.stringify(v)}: expected a positive number`);
  }
  return n;
}

/**
 * Resolves the cache settings; see the module documentation.
 *
 * @throws {ConfigError} on a bad mode string, URL, header, number, or a remote mode without URL
 */
export function resolveRemoteSettings(
  flags: CacheFlags,
  env: (name: string) => string | undefined,
): RemoteSettings {
  const modes = flags.cache !== undefined
    ? parseCacheModes(flags.cache)
    : env("KILN_CACHE_MODE")
    ? parseCacheModes(env("KILN_CACHE_MODE")!, "KILN_CACHE_MODE")
    : {};
  const fromFlag = flags.remoteCache !== undefined && flags.remoteCache !== "";
  const url = fromFlag ? flags.remoteCache! : env("KILN_REMOTE_CACHE") || null;
  const source = fromFlag ? "--remote-cache" : "KILN_REMOTE_CACHE";
  if (url !== null) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ConfigError(`Bad ${source} value: not a URL; expected e.g. http://cache:9090/`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new ConfigError(
        `Bad ${source} value: ${
          JSON.stringify(u.protocol)
        } is not http: or https:; expected e.g. http://cache:9090/`,
      );
    }
  }
  if (url === null && (modes.remote === "rw" || modes.remote === "r")) {
    throw new ConfigError(
      `The cache mode asks for remote:${modes.remote} but no remote cache is set: pass --remote-cache URL or set KILN_REMOTE_CACHE`,
    );
  }
  const headers: Record<string, string> = {};
  const header = env("KILN_REMOTE_CACHE_HEADER");
  if (header) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/.exec(header);
    if (!m || !m[2] || /[\r\n]/.test(m[2])) {
      // The value is a credential: the message never quotes it.
      throw new ConfigError(
        `Bad KILN_REMOTE_CACHE_HEADER: expected "Name: value", e.g. "Authorization: Bearer <token>"`,
      );
    }
    headers[m[1]] = m[2].trim();
  }
  const pr = pullRequestBuild(env);
  let remote: CacheAccess = modes.remote ?? (url === null ? "off" : pr ? "r" : "rw");
  let warning: string | null = null;
  const secret = env("KILN_REMOTE_CACHE_KEY") || null;
  if (remote !== "off" && !secret) {
    remote = "off";
    warning =
      "Remote cache is off: set KILN_REMOTE_CACHE_KEY to the secret its entries are signed with (e.g. openssl rand -hex 32, the same on every builder)";
  } else if (remote !== "off" && secret!.length < 16) {
    throw new ConfigError(
      `KILN_REMOTE_CACHE_KEY is too short (${
        secret!.length
      } characters): use at least 16 random characters, e.g. openssl rand -hex 32`,
    );
  }
  return {
    local: modes.local ?? "rw",
    remote,
    url: remote === "off" ? null : url,
    secret: remote === "off" ? null : secret,
    headers,
    concurrency: Math.round(positive(env, "KILN_REMOTE_CACHE_JOBS", 8)),
    idleTimeoutMs: positive(env, "KILN_REMOTE_CACHE_TIMEOUT", 60) * 1000,
    readOnlyReason: modes.remote === undefined && remote === "r" && pr ? pr : null,
    warning,
  };
}
