/**
 * The shared remote cache: what the CLI needs to put one in front of the local store.
 *
 * ```ts
 * import { openCacheStore, resolveRemoteSettings } from "../remote/mod.ts";
 *
 * const settings = resolveRemoteSettings(
 *   { remoteCache: opts.remoteCache, cache: opts.cache }, // --remote-cache, --cache
 *   (name) => Deno.env.get(name),
 * ); // throws ConfigError on a bad value
 * const store = openCacheStore(new LocalStore(defaultCacheDir()), settings, (m) => reporter.warn(m));
 * await runBuild(graph, { ...options, store });
 * ```
 *
 * See `config.ts` for the flags and environment variables, `tiered_store.ts` for what the
 * store does, `action_result.ts` for the format on the server and `signature.ts` for signing.
 *
 * @module
 */

import type { CacheStore, LocalStore } from "../engine/store.ts";
import type { RemoteSettings } from "./config.ts";
import { TieredStore } from "./tiered_store.ts";

export {
  type CacheAccess,
  type CacheFlags,
  type CacheModes,
  parseCacheModes,
  type RemoteSettings,
  resolveRemoteSettings,
} from "./config.ts";
export { type RemoteStats, TieredStore, type TieredStoreOptions } from "./tiered_store.ts";
export { HttpCache, type HttpCacheOptions } from "./http_cache.ts";
export { pullRequestBuild } from "../builders/ci_env.ts";

/** A store that neither reads nor writes: `--cache local:off` without a remote. */
class NoStore implements CacheStore {
  getEntry() {
    return Promise.resolve(null);
  }
  putEntry() {
    return Promise.resolve();
  }
  putBlob() {
    return Promise.resolve();
  }
  restoreBlob() {
    return Promise.resolve("blob-missing" as const);
  }
  readBlobText() {
    return Promise.resolve(null);
  }
  discardEntry() {}
  flush() {
    return Promise.resolve();
  }
  discard() {}
}

/**
 * The store a build uses for `settings`: the local store itself when there is no remote (no
 * cost at all), else a {@link TieredStore}. `settings.warning` (e.g. the remote is off for
 * want of a key) is passed to `warn` here, once.
 *
 * `local:r` with no remote is the local store read-only: it restores but records nothing.
 */
export function openCacheStore(
  local: LocalStore,
  settings: RemoteSettings,
  warn: (message: string) => void,
): CacheStore {
  if (settings.warning) warn(settings.warning);
  if (settings.remote === "off" || !settings.url || !settings.secret) {
    if (settings.local === "rw") return local;
    if (settings.local === "off") return new NoStore();
    return readOnly(local);
  }
  return new TieredStore({
    local,
    localAccess: settings.local,
    remote: {
      url: settings.url,
      headers: settings.headers,
      concurrency: settings.concurrency,
      idleTimeoutMs: settings.idleTimeoutMs,
    },
    remoteAccess: settings.remote,
    secret: settings.secret,
    warn,
  });
}

/** `local` restoring but never writing. */
function readOnly(local: LocalStore): CacheStore {
  return {
    getEntry: (key, opts) => local.getEntry(key, opts),
    putEntry: () => Promise.resolve(),
    putBlob: () => Promise.resolve(),
    restoreBlob: (d, size, mode, dest, opts) => local.restoreBlob(d, size, mode, dest, opts),
    readBlobText: (d) => local.readBlobText(d),
    discardEntry: () => {},
    flush: () => Promise.resolve(),
    discard: () => {},
  };
}
