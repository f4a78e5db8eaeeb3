/**
 * The shared remote cache end to end: the engine builds in workspace A (its own local cache)
 * filling a real nginx WebDAV cache, then in workspace B with an empty local cache.
 */

import assert from "node:assert/strict";
import { LocalProcessRunner } from "../../builders/local.ts";
import { type BuildSummary, runBuild } from "../../engine/build.ts";
import { buildGraph } from "../../engine/graph.ts";
import { hashFile } from "../../engine/hash.ts";
import { logPath } from "../../engine/run_action.ts";
import { LocalStore } from "../../engine/store.ts";
import { cmd, type Task } from "../../engine/task.ts";
import { openCacheStore, resolveRemoteSettings } from "../../remote/mod.ts";
import { type CacheServer, startCacheServer } from "../rig/cache_server.ts";
import {
  diffTrees,
  makeTmp,
  removeTree,
  sha256,
  treeDigests,
  writeFiles,
} from "../rig/workspace.ts";

const SECRET = "e2e-remote-cache-secret-0123456789";

/** Two tasks: a folder of every kind of output (inline, 2 MiB blob, executable, empty, link), and an archive of it. */
const TASKS: Task[] = [
  {
    id: "gen",
    inputs: ["src/in.txt"],
    outputs: ["out/gen"],
    action: cmd(
      "mkdir -p out/gen/sub && tr a-z A-Z < src/in.txt > out/gen/up.txt && " +
        "{ cat src/in.txt; yes data | head -c 2000000; } > out/gen/data.bin && " +
        "printf '#!/bin/sh\\necho hi\\n' > out/gen/tool && chmod 755 out/gen/tool && " +
        ': > out/gen/sub/empty && ln -s up.txt out/gen/link && echo gen >> "$HOME/runs" && ' +
        "echo generated the folder",
    ),
  },
  {
    id: "pack",
    deps: ["gen"],
    outputs: ["out/pack.txt"],
    action: cmd(
      'cat out/gen/up.txt out/gen/data.bin | sha256sum > out/pack.txt && echo pack >> "$HOME/runs"',
    ),
  },
];

interface Ws {
  root: string;
  cache: string;
  home: string;
  warnings: string[];
  runs(): string[];
  build(url: string, tasks?: Task[], extraEnv?: Record<string, string>): Promise<BuildSummary>;
}

function workspace(dir: string, name: string): Ws {
  const root = `${dir}/${name}`, home = `${dir}/${name}-home`;
  writeFiles(root, { "src/in.txt": "hello remote cache\n" });
  Deno.mkdirSync(home);
  const ws: Ws = {
    root,
    cache: `${dir}/${name}-cache`,
    home,
    warnings: [],
    runs() {
      try {
        return Deno.readTextFileSync(`${home}/runs`).split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    async build(url, tasks = TASKS, extraEnv = {}) {
      const env: Record<string, string> = { KILN_REMOTE_CACHE_KEY: SECRET, ...extraEnv };
      const settings = resolveRemoteSettings({ remoteCache: url }, (n) => env[n]);
      const warn = (m: string) => ws.warnings.push(m);
      const store = openCacheStore(new LocalStore(ws.cache), settings, warn);
      const summary = await runBuild(buildGraph({ tasks, pools: {}, root }), {
        targets: [],
        jobs: 2,
        keepGoing: false,
        store,
        runner: new LocalProcessRunner(),
        env: (n) => (n === "HOME" ? home : undefined),
        reporter: { warn },
      });
      assert.equal(summary.counts.failed, 0, JSON.stringify(summary.outcomes));
      return summary;
    },
  };
  return ws;
}

async function withServer(body: (server: CacheServer, dir: string) => Promise<void>) {
  await using server = await startCacheServer();
  const dir = await makeTmp("remote-e2e-");
  try {
    await body(server, dir);
  } finally {
    await removeTree(dir);
  }
}

function sameOutputs(a: Ws, b: Ws): void {
  assert.deepEqual(diffTrees(treeDigests(b.root, "out"), treeDigests(a.root, "out")), []);
}

Deno.test("runBuild() in a second workspace with an empty cache restores every task from the remote cache: none runs and the outputs are identical", async () => {
  await withServer(async (server, dir) => {
    const a = workspace(dir, "a");
    const first = await a.build(server.url);
    assert.deepEqual(first.counts, { ran: 2, cached: 0, fresh: 0, failed: 0, skipped: 0 });
    assert.equal(server.list("ac").length, 2, "one action entry per task");

    const b = workspace(dir, "b");
    const second = await b.build(server.url);
    assert.deepEqual(second.counts, { ran: 0, cached: 2, fresh: 0, failed: 0, skipped: 0 });
    assert.deepEqual(b.runs(), [], "no command ran in workspace B");
    assert.deepEqual([...a.warnings, ...b.warnings], []);
    sameOutputs(a, b);
    assert.equal(Deno.statSync(`${b.root}/out/gen/tool`).mode! & 0o111, 0o111, "executable");
    assert.equal(Deno.readLinkSync(`${b.root}/out/gen/link`), "up.txt");
    assert.match(Deno.readTextFileSync(logPath(b.root, "gen")), /generated the folder/);
    const local = new LocalStore(b.cache);
    for (const key of server.list("ac")) assert.ok(await local.getEntry(key), "kept locally");
  });
});

Deno.test("runBuild() rejects an action entry altered on the server, reruns the task and uploads a good entry again", async () => {
  await withServer(async (server, dir) => {
    const a = workspace(dir, "a");
    await a.build(server.url);
    // Someone without the key rewrites gen's entry: the inline up.txt gets other bytes.
    let altered = "";
    for (const key of server.list("ac")) {
      const ar = JSON.parse(Deno.readTextFileSync(server.path("ac", key)));
      const up = ar.outputFiles.find((f: { path: string }) => f.path === "out/gen/up.txt");
      if (!up) continue;
      up.contents = btoa("EVIL REMOTE CACHE\n".padEnd(19, "!"));
      Deno.writeTextFileSync(server.path("ac", key), JSON.stringify(ar));
      altered = key;
    }
    assert.ok(altered, "found gen's entry");

    const b = workspace(dir, "b");
    const second = await b.build(server.url);
    assert.deepEqual(b.runs(), ["gen"], "gen reran; pack's key is unchanged, so it was restored");
    assert.equal(second.counts.cached, 1);
    assert.equal(b.warnings.length, 1, b.warnings.join("\n"));
    assert.match(b.warnings[0], new RegExp(`"${altered.slice(0, 12)}…".*does not match`));
    assert.equal(Deno.readTextFileSync(`${b.root}/out/gen/up.txt`), "HELLO REMOTE CACHE\n");

    const c = workspace(dir, "c");
    await c.build(server.url);
    assert.deepEqual(c.runs(), [], "B's upload replaced the altered entry");
    assert.deepEqual(c.warnings, []);
    sameOutputs(a, c);
  });
});

Deno.test("runBuild() discards a blob altered on the server, reruns its task and uploads the blob again", async () => {
  await withServer(async (server, dir) => {
    const a = workspace(dir, "a");
    await a.build(server.url);
    const digest = sha256(Deno.readFileSync(`${a.root}/out/gen/data.bin`));
    const blob = Deno.readFileSync(server.path("cas", digest));
    blob[123_456] ^= 0x20;
    Deno.writeFileSync(server.path("cas", digest), blob);

    const b = workspace(dir, "b");
    await b.build(server.url);
    assert.deepEqual(b.runs(), ["gen"]);
    assert.ok(
      b.warnings.some((w) => w.includes(`"${digest.slice(0, 12)}…" does not match its digest`)),
      b.warnings.join("\n"),
    );
    sameOutputs(a, b);
    assert.equal(sha256(Deno.readFileSync(server.path("cas", digest))), digest, "repaired");

    const c = workspace(dir, "c");
    await c.build(server.url);
    assert.deepEqual(c.runs(), []);
    assert.deepEqual(c.warnings, []);
  });
});

Deno.test("runBuild() with the remote cache down warns exactly once and builds locally", async () => {
  await withServer(async (server, dir) => {
    const url = server.url;
    await server.stop();
    const a = workspace(dir, "a");
    const first = await a.build(url);
    assert.deepEqual(first.counts, { ran: 2, cached: 0, fresh: 0, failed: 0, skipped: 0 });
    assert.equal(a.warnings.length, 1, a.warnings.join("\n"));
    assert.match(a.warnings[0], /^Remote cache "http:\/\/127\.0\.0\.1:\d+\/cache\/" failed/);
    assert.match(a.warnings[0], /building without the remote cache from here on$/);

    // The local tier recorded everything: another workspace on this machine restores it.
    const b = workspace(dir, "b");
    b.cache = a.cache;
    const second = await b.build(url);
    assert.deepEqual(second.counts, { ran: 0, cached: 2, fresh: 0, failed: 0, skipped: 0 });
    assert.equal(b.warnings.length, 0, "local hits need no remote");
  });
});

Deno.test("runBuild() in a pull-request build reads the remote cache but uploads nothing", async () => {
  await withServer(async (server, dir) => {
    const a = workspace(dir, "a");
    await a.build(server.url, TASKS, { GITHUB_EVENT_NAME: "pull_request" });
    assert.deepEqual(a.runs(), ["gen", "pack"]);
    assert.deepEqual(server.list("ac"), []);
    assert.deepEqual(server.list("cas"), []);
  });
});

const BIG = 300 * 1024 * 1024;

/** Runs `work` while sampling this process's RSS; returns its peak over `base`. */
async function peakRssOver(base: number, work: () => Promise<unknown>): Promise<number> {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, Deno.memoryUsage().rss) - base;
}

Deno.test("runBuild() moves a 300 MiB output through the remote cache both ways with bounded memory", async () => {
  await withServer(async (server, dir) => {
    const big: Task = {
      id: "big",
      inputs: ["src/in.txt"],
      outputs: ["out/big.img"],
      action: cmd(`mkdir -p out && { cat src/in.txt; yes kiln; } | head -c ${BIG} > out/big.img`),
    };
    const a = workspace(dir, "a");
    const b = workspace(dir, "b");
    // Both phases against the RSS before either: garbage the upload left counts against the
    // download too.
    const base = Deno.memoryUsage().rss;
    const up = await peakRssOver(base, () => a.build(server.url, [big]));
    // Hashed as a stream: reading 300 MiB into memory here would hide the growth measured next.
    const { digest } = await hashFile(`${a.root}/out/big.img`);
    assert.equal(Deno.statSync(server.path("cas", digest)).size, BIG, "uploaded whole");

    const down = await peakRssOver(base, () => b.build(server.url, [big]));
    assert.deepEqual(b.runs(), []);
    assert.deepEqual([...a.warnings, ...b.warnings], []);
    assert.equal(Deno.statSync(`${b.root}/out/big.img`).size, BIG);
    assert.equal((await hashFile(`${b.root}/out/big.img`)).digest, digest);
    // Half the blob: holding it would add all 300 MiB. Not tighter: test files run in parallel
    // share this process, and their allocations show in its RSS too.
    const limit = 150 * 1024 * 1024;
    assert.ok(up < limit, `upload grew RSS by ${(up / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(down < limit, `download grew RSS by ${(down / 2 ** 20).toFixed(0)} MiB`);
  });
});
