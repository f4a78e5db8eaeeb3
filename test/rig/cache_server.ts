/**
 * A remote cache for tests: Debian's nginx on loopback with a WebDAV location (`dav_methods
 * PUT`, `create_full_put_path on`) that stores the Bazel HTTP cache layout as plain files, so a
 * test can read, alter or delete what kiln uploaded.
 *
 * @example
 * ```ts
 * await using server = await startCacheServer();
 * server.url;               // "http://127.0.0.1:<port>/cache/"
 * server.path("ac", key);   // the file nginx stored for PUT /cache/ac/<key>
 * ```
 *
 * @module
 */

import { type Nginx, startNginx } from "./nginx.ts";
import { makeTmp, removeTree } from "./workspace.ts";

/** A running cache server. */
export interface CacheServer extends AsyncDisposable {
  readonly nginx: Nginx;
  /** The cache's base URL, with a trailing slash. */
  readonly url: string;
  /** The file behind `<url><kind>/<hash>`. */
  path(kind: "ac" | "cas", hash: string): string;
  /** Hashes stored under `kind`. */
  list(kind: "ac" | "cas"): string[];
  /** Access log lines under the cache: `METHOD /cache/<kind>/<hash> STATUS BYTES`. */
  requests(): string[];
  /** Stops nginx (the stored files stay until dispose). */
  stop(): Promise<void>;
}

/** Starts nginx serving an empty cache. */
export async function startCacheServer(): Promise<CacheServer> {
  const root = await makeTmp("cache-server-");
  Deno.mkdirSync(`${root}/cache`);
  const nginx = await startNginx({ root, upload: { path: "/cache/" } });
  const path = (kind: "ac" | "cas", hash: string) => `${root}/cache/${kind}/${hash}`;
  return {
    nginx,
    url: nginx.url("cache/"),
    path,
    list(kind) {
      try {
        return [...Deno.readDirSync(`${root}/cache/${kind}`)].map((e) => e.name).sort();
      } catch {
        return [];
      }
    },
    requests: () => nginx.accessLog().filter((l) => l.includes(" /cache/")),
    stop: () => nginx.stop(),
    async [Symbol.asyncDispose]() {
      await nginx.stop();
      await removeTree(root);
    },
  };
}
