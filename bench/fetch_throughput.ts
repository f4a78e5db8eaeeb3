/**
 * Download throughput on loopback: kiln's `fetchFile` (iso/fetch.ts) against `curl -o`, both
 * fetching the 2 GiB random file from the same local server and timed as whole processes. The
 * target is kiln >= 0.9x curl's throughput.
 *
 * The server is a small Python `http.server` that answers with `sendfile(2)`, so it spends little
 * CPU and is not the bottleneck (Python's default handler copies through user space; nginx is not
 * installed). Both clients write to the same disk and neither flushes; before each run the
 * previous output is deleted and `sync` waits out its writeback (untimed), and the two clients
 * take turns run by run, so neighbours' load falls on both alike. kiln's client checks the
 * digest it computed while downloading against the file's.
 *
 * Run on its own: `deno run -A bench/fetch_throughput.ts [--runs N] [--warmup N]` (default 8 and
 * 1; keep the runs even, see {@link throughputRatio}).
 * As the kiln client: `deno run -A bench/fetch_throughput.ts --client URL DEST` prints one JSON
 * line `{ sha256, size, ms }`.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { hashFile } from "../engine/hash.ts";
import { fetchFile } from "../iso/fetch.ts";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { BENCH_DIR, REPO_ROOT, WORK_DIR } from "./paths.ts";
import { BIG_SIZE, ensureRandomFile } from "./random_file.ts";
import type { ProcessSpec, TimedRun } from "./run_process.ts";
import { runOnce, type RunPlan, RunSchedule } from "./timed_runs.ts";
import { removePath } from "./workspace_fs.ts";

/** Scenario name of the download rows. */
export const FETCH_SCENARIO = "fetch-2GiB-loopback";

/** The target: kiln's throughput at least this fraction of curl's. */
export const FETCH_TARGET_RATIO = 0.9;

const SERVER_PY = `
import os, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
root = sys.argv[1]
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path.split("?")[0]))
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(404)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            off = 0
            while off < size:
                n = os.sendfile(self.connection.fileno(), f.fileno(), off, min(size - off, 1 << 30))
                if n == 0:
                    break
                off += n
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
`;

/**
 * kiln's throughput over curl's, from the mean times: on this VM run times are bimodal (a run
 * takes ~3.5 s or ~7 s for either client), so a median flips between the modes while the mean,
 * i.e. the throughput over all runs, does not. With the turn order of {@link benchFetch} and an
 * even number of runs, each client has as many runs in either position.
 *
 * @example
 * ```ts
 * throughputRatio([3000, 7000], [4000, 8000]); // 0.833...
 * ```
 */
export function throughputRatio(curlMs: readonly number[], kilnMs: readonly number[]): number {
  return mean(curlMs) / mean(kilnMs);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** MiB per second for `bytes` in `ms` milliseconds. */
export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / 1024 ** 2 / (ms / 1000);
}

/** A running loopback server of `dir`; `close()` stops it. */
interface FileServer {
  readonly url: (name: string) => string;
  close(): Promise<void>;
}

/** Starts the sendfile server on a free loopback port. */
async function startServer(dir: string, scratch: string): Promise<FileServer> {
  const script = join(scratch, "serve.py");
  Deno.writeTextFileSync(script, SERVER_PY);
  const child = new Deno.Command("python3", {
    args: [script, dir],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  const port = Number(text.trim());
  if (!port) {
    child.kill("SIGTERM");
    await child.status;
    throw new Error(`the python3 file server did not start (said ${JSON.stringify(text)})`);
  }
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * Measures `curl -o` and kiln's `fetchFile` downloading the 2 GiB file on loopback, turn by turn;
 * returns a row per tool (median wall-clock ms; the note has the MiB/s over all runs, and kiln's the
 * ratio to curl's throughput).
 */
export async function benchFetch(
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const file = await ensureRandomFile(undefined, undefined, log);
  const base = { group: "big" as const, n: null, scenario: FETCH_SCENARIO };
  const scratch = join(WORK_DIR, "fetch");
  Deno.mkdirSync(scratch, { recursive: true });
  const out = join(scratch, "out.bin");
  log(`hashing ${file} once to check kiln's digest`);
  const expected = (await hashFile(file)).digest;
  let server: FileServer;
  try {
    server = await startServer(WORK_DIR, scratch);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return ["curl", "kiln"].map((tool) => failedMeasurement({ ...base, tool }, msg));
  }
  const url = server.url(file.slice(file.lastIndexOf("/") + 1));
  const sizeCheck = () => {
    let size: number | null = null;
    try {
      size = Deno.statSync(out).size;
    } catch { /* missing */ }
    return size === BIG_SIZE ? null : `${out} has ${size ?? "no"} bytes, expected ${BIG_SIZE}`;
  };
  const prepare = async () => {
    removePath(out);
    removePath(`${out}.partial`);
    removePath(`${out}.partial.json`);
    await new Deno.Command("sync", { stdin: "null" }).output(); // the last run's writeback
  };
  const tools: { tool: string; spec: ProcessSpec; verify: (r: TimedRun) => string | null }[] = [
    {
      tool: "curl",
      spec: { cmd: "curl", args: ["-sS", "--fail", "-o", out, url], cwd: REPO_ROOT },
      verify: sizeCheck,
    },
    {
      tool: "kiln",
      spec: {
        cmd: Deno.execPath(),
        args: ["run", "-A", join(BENCH_DIR, "fetch_throughput.ts"), "--client", url, out],
        cwd: REPO_ROOT,
      },
      verify: (r) => {
        const line = r.stdout.trim().split("\n").pop() ?? "";
        try {
          const got = JSON.parse(line) as { sha256?: string; size?: number };
          if (got.sha256 !== expected) return `digest ${got.sha256}, expected ${expected}`;
        } catch {
          return `unexpected output: ${r.tail}`;
        }
        return sizeCheck();
      },
    },
  ];
  const schedules = tools.map(() => new RunSchedule(plan));
  const errors: (string | null)[] = tools.map(() => null);
  try {
    // Turn by turn (curl, kiln, kiln, curl, ...), so that a noisy neighbour slows both clients
    // alike, and each follows the other as often as itself: here a run right after the other
    // client's took about twice as long as one after its own, for either client (the page cache
    // and the filesystem, mounted with `discard`, are slow to take 2 GiB in this VM).
    for (let round = 0; schedules.some((s, i) => !s.done && !errors[i]); round++) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = tools[i];
        if (schedules[i].done || errors[i]) continue;
        try {
          const ms = await runOnce(t.spec, { prepare, verify: t.verify }, plan.timeoutMs);
          schedules[i].record(ms);
          log(
            `${t.tool} ${FETCH_SCENARIO}: ${ms.toFixed(0)} ms (${
              mibPerSecond(BIG_SIZE, ms).toFixed(0)
            } MiB/s)`,
          );
        } catch (e) {
          errors[i] = e instanceof Error ? e.message : String(e);
          log(`${t.tool} ${FETCH_SCENARIO}: FAILED ${errors[i]}`);
        }
      }
    }
  } finally {
    await server.close();
    removePath(out);
  }
  const results = tools.map((t, i): Measurement => {
    const err = errors[i];
    if (err) return failedMeasurement({ ...base, tool: t.tool }, err);
    const r = schedules[i].result();
    return {
      ...base,
      tool: t.tool,
      medianMs: r.median,
      minMs: r.min,
      maxMs: r.max,
      samples: r.samples,
      note: `${mibPerSecond(BIG_SIZE, mean(r.samples)).toFixed(0)} MiB/s over all runs`,
    };
  });
  const [curl, kiln] = results;
  if (!curl.error && !kiln.error) {
    const ratio = throughputRatio(curl.samples, kiln.samples);
    results[1] = {
      ...kiln,
      note: `${kiln.note}, ${ratio.toFixed(2)}x curl's throughput (mean times)`,
    };
    log(`kiln/curl throughput: ${ratio.toFixed(2)} (target >= ${FETCH_TARGET_RATIO})`);
  }
  return results;
}

async function client(url: string, dest: string): Promise<void> {
  const start = performance.now();
  const r = await fetchFile({ urls: [url], dest, retries: 0 });
  if ("reason" in r) {
    console.error(r.message);
    Deno.exit(1);
  }
  console.log(JSON.stringify({ sha256: r.sha256, size: r.size, ms: performance.now() - start }));
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      client: { type: "boolean" },
      runs: { type: "string" },
      warmup: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.client) await client(positionals[0], positionals[1]);
  else {
    const plan: RunPlan = {
      runs: Number(values.runs ?? 8),
      warmup: Number(values.warmup ?? 1),
      slowRuns: Number(values.runs ?? 8),
      slowMs: Infinity,
      timeoutMs: 600_000,
    };
    const rows = await benchFetch(plan, (l) => console.error(`[bench] ${l}`));
    for (const m of rows) {
      const samples = m.samples.map((s) => s.toFixed(0)).join(", ");
      console.log(
        `${m.tool.padEnd(5)} median ${m.medianMs.toFixed(0)} ms  ${
          m.note ?? m.error
        }  [${samples}]`,
      );
    }
  }
}
