/**
 * kiln processes at the same time, through the real CLI:
 *
 * - two builds of one workspace started at once (one cache) both succeed; the workspace lock
 *   makes them take turns, so every task does its work once and the outputs equal a clean build;
 * - two copies of a workspace built at once against one shared cache both succeed, equal a
 *   clean build, and leave a cache that `cache verify` passes;
 * - Ctrl-C: SIGINT to kiln while a task runs `sleep 30` ends the build with exit code 130 within
 *   seconds, kills the task's process, and caches nothing for it;
 * - SIGINT at a random moment of a busy build leaves a workspace that the next build finishes
 *   correctly.
 *
 *   deno test -A test/e2e/concurrency_test.ts
 *   KILN_CONCURRENCY_SEED=42 deno test -A test/e2e/concurrency_test.ts
 *
 * @module
 */

import assert from "node:assert/strict";
import { editSources, randomGraph } from "../rig/graph.ts";
import { Rng, seedFromEnv } from "../rig/prng.ts";
import {
  type BuildJson,
  cleanBuild,
  collect,
  describeRun,
  diffTrees,
  isRunning,
  kiln,
  makeTmp,
  parseJson,
  processesIn,
  removeTree,
  spawnKiln,
  strayCacheFiles,
  treeDigests,
  waitFor,
  writeFiles,
} from "../rig/workspace.ts";

const SEED = seedFromEnv("KILN_CONCURRENCY_SEED");
const ROUNDS = 3;
const at = `seed ${SEED}; reproduce with KILN_CONCURRENCY_SEED=${SEED}`;

const buildArgs = (ws: string, jobs = 2) => [
  "build",
  "--file",
  `${ws}/kiln.yaml`,
  "--json",
  "-j",
  `${jobs}`,
];

/** A workspace with a random graph; returns it with its source history for edits. */
async function randomWorkspace(rng: Rng, prefix: string) {
  const ws = await makeTmp(prefix);
  const g = randomGraph(rng, { tasks: [15, 25], maxSleep: 3, bigWeight: 2 });
  writeFiles(ws, { "kiln.yaml": g.yaml, ...g.sources });
  const history = new Map(Object.entries(g.sources).map(([p, s]) => [p, [s]]));
  return { ws, history, tasks: g.tasks };
}

async function assertMatchesClean(ws: string, what: string): Promise<void> {
  const clean = await cleanBuild(ws, ["kiln.yaml", "src"]);
  assert.equal(clean.result.code, 0, describeRun(clean.result));
  const diff = diffTrees(treeDigests(ws, "out"), treeDigests(clean.dir, "out"));
  assert.deepEqual(diff, [], `${what}: outputs differ from a clean build (${at})`);
  await removeTree(clean.dir);
}

async function assertCacheIntact(cache: string, what: string): Promise<void> {
  const r = await kiln(["cache", "verify"], { cacheDir: cache });
  assert.equal(r.code, 0, `${what}: cache verify failed (${at}):\n${describeRun(r)}`);
  assert.match(r.stdout, /all intact/);
  assert.deepEqual(strayCacheFiles(cache), [], `${what}: stray files in the cache (${at})`);
}

function assertSucceeded(r: Awaited<ReturnType<typeof kiln>>, what: string): BuildJson {
  assert.equal(r.code, 0, `${what} failed (${at}):\n${describeRun(r)}`);
  const s = parseJson(r);
  const bad = s.tasks.filter((t) => !["ran", "cached", "fresh"].includes(t.status));
  assert.deepEqual(bad, [], `${what}: tasks not built (${at})`);
  return s;
}

Deno.test(`concurrency: two builds of one workspace at once take turns (seed ${SEED})`, async () => {
  const rng = new Rng(SEED);
  const { ws, history, tasks } = await randomWorkspace(rng, "conc-one-");
  const cache = `${ws}-cache`;
  for (let round = 1; round <= ROUNDS; round++) {
    if (round > 1) editSources(rng, history, (p, text) => writeFiles(ws, { [p]: text }), 4);
    const a = spawnKiln(buildArgs(ws, rng.int(1, 3)), { cacheDir: cache });
    const b = spawnKiln(buildArgs(ws, rng.int(1, 3)), { cacheDir: cache });
    const [ra, rb] = await Promise.all([collect(a), collect(b)]);
    const sa = assertSucceeded(ra, `round ${round}, build A`);
    const sb = assertSucceeded(rb, `round ${round}, build B`);
    assert.equal(sa.tasks.length, tasks);
    // The lock serializes whole builds: whichever went second found everything fresh.
    assert.ok(
      sa.fresh === tasks || sb.fresh === tasks,
      `round ${round}: both builds did work (${at}):\nA: ${ra.stdout}\nB: ${rb.stdout}`,
    );
    await assertMatchesClean(ws, `round ${round}`);
  }
  await assertCacheIntact(cache, "after the rounds");
  await removeTree(ws);
  await removeTree(cache);
});

Deno.test(`concurrency: two workspaces share one cache at once (seed ${SEED})`, async () => {
  const rng = new Rng(SEED ^ 0x5bd1e995);
  const { ws: wsA, history, tasks } = await randomWorkspace(rng, "conc-a-");
  const wsB = await makeTmp("conc-b-");
  await Deno.remove(wsB);
  await new Deno.Command("cp", { args: ["-a", wsA, wsB] }).output();
  const cache = `${wsA}-cache`;
  for (let round = 1; round <= ROUNDS; round++) {
    if (round > 1) {
      const write = (p: string, text: string) => {
        for (const ws of [wsA, wsB]) writeFiles(ws, { [p]: text });
      };
      editSources(rng, history, write, 4);
    }
    const a = spawnKiln(buildArgs(wsA, rng.int(1, 3)), { cacheDir: cache });
    const b = spawnKiln(buildArgs(wsB, rng.int(1, 3)), { cacheDir: cache });
    const [ra, rb] = await Promise.all([collect(a), collect(b)]);
    const sa = assertSucceeded(ra, `round ${round}, workspace A`);
    const sb = assertSucceeded(rb, `round ${round}, workspace B`);
    assert.equal(sa.tasks.length, tasks);
    assert.equal(sb.tasks.length, tasks);
    await assertMatchesClean(wsA, `round ${round}, workspace A`);
    const diff = diffTrees(treeDigests(wsB, "out"), treeDigests(wsA, "out"));
    assert.deepEqual(diff, [], `round ${round}: workspace B differs from A (${at})`);
    await assertCacheIntact(cache, `round ${round}`);
  }
  for (const ws of [wsA, wsB]) {
    const again = assertSucceeded(await kiln(buildArgs(ws), { cacheDir: cache }), "rebuild");
    assert.equal(again.fresh, tasks, `a rebuild of ${ws} is not a no-op (${at})`);
  }
  for (const d of [wsA, wsB, cache]) await removeTree(d);
});

const HOLD_YAML = `tasks:
  quick:
    cmd: echo quick > out/quick.txt
    outputs: [out/quick.txt]
  hold:
    cmd: echo $$ > out/pid; exec sleep 30
    deps: [quick]
    outputs: [out/pid]
  after:
    cmd: cat out/pid > out/after.txt
    deps: [hold]
    outputs: [out/after.txt]
`;

Deno.test("concurrency: Ctrl-C stops the build, kills the task and caches nothing", async () => {
  const ws = await makeTmp("conc-int-");
  const cache = `${ws}-cache`;
  writeFiles(ws, { "kiln.yaml": HOLD_YAML });
  const child = spawnKiln(buildArgs(ws), { cacheDir: cache });
  const pidFile = `${ws}/out/pid`;
  const started = await waitFor(() => {
    try {
      return /^\d+\n$/.test(Deno.readTextFileSync(pidFile));
    } catch {
      return false;
    }
  }, 20_000);
  if (!started) {
    child.kill("SIGKILL");
    assert.fail(`the task never started:\n${describeRun(await collect(child))}`);
  }
  const pid = Number(Deno.readTextFileSync(pidFile));
  assert.ok(isRunning(pid), "the task's process runs");
  const t0 = performance.now();
  child.kill("SIGINT");
  const r = await collect(child);
  const ms = performance.now() - t0;
  assert.equal(r.code, 130, `exit code after SIGINT:\n${describeRun(r)}`);
  assert.ok(ms < 5000, `kiln took ${Math.round(ms)} ms to stop`);
  const statuses = Object.fromEntries(parseJson(r).tasks.map((t) => [t.id, t.status]));
  assert.equal(statuses.quick, "ran");
  assert.notEqual(statuses.hold, "ran", "an interrupted task is not a success");
  assert.equal(statuses.after, "skipped");
  assert.ok(await waitFor(() => !isRunning(pid), 3000), `the task's sleep (pid ${pid}) survived`);
  assert.deepEqual(processesIn(ws), [], "processes still run in the workspace");

  const plan = await kiln([...buildArgs(ws), "--dry-run"], { cacheDir: cache });
  assert.equal(plan.code, 0, describeRun(plan));
  const decisions = Object.fromEntries(
    parseJson<{ tasks: { id: string; decision: string }[] }>(plan).tasks.map((
      t,
    ) => [t.id, t.decision]),
  );
  assert.deepEqual(decisions, { quick: "fresh", hold: "run", after: "run" }, plan.stdout);
  await assertCacheIntact(cache, "after the interrupt");
  await removeTree(ws);
  await removeTree(cache);
});

Deno.test(`concurrency: an interrupted busy build is finished by the next (seed ${SEED})`, async () => {
  const rng = new Rng(SEED ^ 0x1b873593);
  const { ws, history } = await randomWorkspace(rng, "conc-int2-");
  const cache = `${ws}-cache`;
  const log: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    editSources(rng, history, (p, text) => writeFiles(ws, { [p]: text }), 4);
    const child = spawnKiln(buildArgs(ws, rng.int(1, 4)), { cacheDir: cache });
    const delay = rng.int(50, 1500);
    await new Promise((r) => setTimeout(r, delay));
    try {
      child.kill("SIGINT");
    } catch { /* already done */ }
    const r = await collect(child);
    log.push(`round ${round}: SIGINT after ${delay} ms -> exit ${r.code}`);
    assert.ok(r.code === 130 || r.code === 0, `after SIGINT (${at}):\n${describeRun(r)}`);
    assert.ok(await waitFor(() => processesIn(ws).length === 0, 5000), "tasks survived SIGINT");
    await assertCacheIntact(cache, `round ${round}`);
    const next = assertSucceeded(await kiln(buildArgs(ws), { cacheDir: cache }), "next build");
    assert.equal(next.failed, 0);
    await assertMatchesClean(ws, `round ${round} (${log.join("; ")})`);
  }
  await removeTree(ws);
  await removeTree(cache);
});
