/**
 * A real nginx (Debian's) on loopback for tests: its own prefix, configuration, logs and temp
 * folders in a fresh folder under `test/.tmp/`, `daemon off`, a free port, stopped (and its
 * folder removed) on dispose. It serves a folder read-only, and optionally accepts `PUT` (WebDAV)
 * under a path, for tests of clients that upload (a remote cache).
 *
 * @example
 * ```ts
 * await using web = await startNginx({ root: repoDir });
 * await fetch(web.url("dists/stable/InRelease"));
 * ```
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where tests keep temporary files (never /tmp, which is slow here). */
const TMP = resolve(dirname(fileURLToPath(import.meta.url)), "..", ".tmp");

/** What to serve. */
export interface NginxOptions {
  /** Folder served at `/`. */
  readonly root: string;
  /**
   * Accept uploads: `PUT` (and `DELETE`) under this URL path, e.g. `/cache/`, stored in
   * `uploadRoot` (default: the served root), folders created as needed.
   */
  readonly upload?: { readonly path: string; readonly uploadRoot?: string };
  /** The nginx binary; default `nginx` from PATH (Debian puts it in /usr/sbin). */
  readonly binary?: string;
}

/** A running nginx. */
export interface Nginx extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>/<path>`. */
  url(path?: string): string;
  /** The access log so far (one line per request: method, path, status, bytes). */
  accessLog(): string[];
  /** Stops nginx and removes its folder (also done on dispose). */
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function findBinary(given?: string): string {
  if (given) return given;
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      Deno.statSync(p);
      return p;
    } catch { /* next */ }
  }
  return "nginx";
}

function config(o: NginxOptions, prefix: string, port: number): string {
  const upload = o.upload
    ? `
    location ${o.upload.path} {
      root ${JSON.stringify(resolve(o.upload.uploadRoot ?? o.root))};
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
      client_max_body_size 0;
    }`
    : "";
  const user = Deno.uid() === 0 ? "user root;" : "";
  return `
${user}
daemon off;
master_process on;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 64; }
http {
  default_type application/octet-stream;
  log_format kiln '$request_method $uri $status $body_bytes_sent';
  access_log ${prefix}/access.log kiln;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root ${JSON.stringify(resolve(o.root))};
    location / { }${upload}
  }
}
`;
}

async function waitListening(port: number, child: Deno.ChildProcess, prefix: string) {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let i = 0; i < 200; i++) {
    if (exited) break;
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return null;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  let log = "";
  try {
    log = Deno.readTextFileSync(join(prefix, "error.log")).trim().split("\n").slice(-3).join(" | ");
  } catch { /* none */ }
  return log || (exited ? "nginx exited" : "nginx did not listen within 5 s");
}

/**
 * Starts nginx serving `o.root` on a free loopback port; retries with another port when the one
 * picked was taken meanwhile.
 *
 * @throws {Error} when nginx cannot start (not installed, bad configuration)
 */
export async function startNginx(o: NginxOptions): Promise<Nginx> {
  Deno.mkdirSync(TMP, { recursive: true });
  let lastProblem = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const prefix = Deno.makeTempDirSync({ dir: TMP, prefix: "nginx-" });
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) Deno.mkdirSync(join(prefix, d));
    const port = freePort();
    Deno.writeTextFileSync(join(prefix, "nginx.conf"), config(o, prefix, port));
    const child = new Deno.Command(findBinary(o.binary), {
      args: ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-e", join(prefix, "error.log")],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeTo(new WritableStream()); // drained, so nginx never blocks
    const problem = await waitListening(port, child, prefix);
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGQUIT"); // graceful: finish requests, then exit
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3000);
      await child.status;
      clearTimeout(timer);
      await stderr.catch(() => {});
      Deno.removeSync(prefix, { recursive: true });
    };
    if (problem) {
      await stop();
      lastProblem = problem;
      if (/Address already in use/.test(problem)) continue;
      break;
    }
    return {
      port,
      url: (path = "") => `http://127.0.0.1:${port}/${path.replace(/^\//, "")}`,
      accessLog: () => {
        try {
          return Deno.readTextFileSync(join(prefix, "access.log")).split("\n").filter((l) => l);
        } catch {
          return [];
        }
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  }
  throw new Error(`nginx did not start: ${lastProblem}`);
}
