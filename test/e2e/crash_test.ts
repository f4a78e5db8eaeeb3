/**
 * Builds killed with SIGKILL at random moments must leave the cache consistent and the workspace
 * recoverable: after each kill `cache verify` passes and no stray file sits among the entries and
 * blobs; a final build succeeds with outputs byte-identical to a clean build in an empty cache,
 * and the build after it is a no-op.
 *
 * The real CLI runs as a subprocess on a seeded random graph of 30-60 tasks whose commands sleep
 * a few milliseconds, including folder outputs and outputs over 1 MiB (hard-linked, sealed
 * blobs). Before each killed build some sources change (or revert), so every build has work.
 * Kills come 20-800 ms after the start, or 0.8-2.5 s for 40% of them: the store publishes on a
 * 1 s ticker, and only later kills catch a build mid-publish with some results already stored.
 * A kill hits either kiln alone (its running commands finish as orphans; the test waits for
 * them, as a user would find them gone) or kiln and every process it started.
 *
 *   deno test -A test/e2e/crash_test.ts
 *   KILN_CRASH_SEED=42 KILN_CRASH_ROUNDS=30 deno test -A test/e2e/crash_test.ts
 *
 * @module
 */

import assert from "node:assert/strict";
import { editSources, randomGraph } from "../rig/graph.ts";
import { intFromEnv, Rng, seedFromEnv } from "../rig/prng.ts";
import {
  cleanBuild,
  collect,
  descendantsOf,
  describeRun,
  diffTrees,
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

const SEED = seedFromEnv("KILN_CRASH_SEED");
const ROUNDS = intFromEnv("KILN_CRASH_ROUNDS", 8);

/** Number of action entries in the cache. */
function entries(cache: string): number {
  let n = 0;
  try {
    for (const shard of Deno.readDirSync(`${cache}/ac`)) {
      n += [...Deno.readDirSync(`${cache}/ac/${shard.name}`)].length;
    }
  } catch { /* no cache yet */ }
  return n;
}

/** `kiln cache verify` passes and nothing but entries, blobs and seals is in `ac/` and `cas/`. */
async function verify(cache: string, when: string): Promise<void> {
  const r = await kiln(["cache", "verify"], { cacheDir: cache });
  assert.equal(r.code, 0, `cache verify failed ${when} (seed ${SEED}):\n${describeRun(r)}`);
  assert.match(r.stdout, /all intact/, `cache verify ${when} (seed ${SEED}):\n${r.stdout}`);
  assert.deepEqual(strayCacheFiles(cache), [], `stray files in the cache ${when} (seed ${SEED})`);
}

Deno.test({
  name:
    `crash: SIGKILLed builds leave a consistent cache and a recoverable workspace (seed ${SEED})`,
  async fn() {
    const rng = new Rng(SEED);
    const ws = await makeTmp("crash-ws-");
    const cache = `${ws}-cache`;
    const { yaml, sources } = randomGraph(rng, { tasks: [30, 60] });
    writeFiles(ws, { "kiln.yaml": yaml, ...sources });
    const history = new Map(Object.entries(sources).map(([p, s]) => [p, [s]]));
    const args = (
      jobs: number,
    ) => ["build", "--file", `${ws}/kiln.yaml`, "--json", "-j", `${jobs}`];
    const log: string[] = [];
    const ctx = () => `seed ${SEED}; reproduce with KILN_CRASH_SEED=${SEED}\n${log.join("\n")}`;

    for (let round = 1; round <= ROUNDS; round++) {
      // New work for this build: change or revert a few sources.
      editSources(rng, history, (p, text) => writeFiles(ws, { [p]: text }));
      const jobs = rng.int(1, 4);
      // Most kills land in the first 800 ms; the store publishes on a 1 s ticker, so later ones
      // are needed to kill builds in the middle of publishing (and after some progress).
      const delay = rng.chance(0.6) ? rng.int(20, 800) : rng.int(800, 2500);
      const whole = rng.chance(0.5);
      const child = spawnKiln(args(jobs), { cacheDir: cache });
      await new Promise((r) => setTimeout(r, delay));
      const victims = whole ? descendantsOf(child.pid) : [];
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      for (const p of victims) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* gone */ }
      }
      const r = await collect(child);
      log.push(
        `round ${round}: -j ${jobs}, kill ${whole ? "tree" : "kiln"} after ${delay} ms -> ` +
          `${r.signal ?? `exit ${r.code}`}; ${entries(cache)} cache entries`,
      );
      assert.ok(r.signal === "SIGKILL" || r.code === 0, `unexpected end: ${describeRun(r)}`);
      // Orphaned commands of the killed kiln finish their few milliseconds of work.
      const calm = await waitFor(() => processesIn(ws).length === 0, 10_000);
      assert.ok(calm, `processes still running in the workspace: ${processesIn(ws)}`);
      await verify(cache, `after round ${round} (${ctx()})`);
    }

    const final = await kiln(args(2), { cacheDir: cache });
    assert.equal(final.code, 0, `final build failed (${ctx()}):\n${describeRun(final)}`);
    const summary = parseJson(final);
    assert.equal(summary.failed, 0);
    assert.ok(summary.tasks.every((t) => t.status !== "skipped"), describeRun(final));

    const clean = await cleanBuild(ws, ["kiln.yaml", "src"]);
    assert.equal(clean.result.code, 0, describeRun(clean.result));
    const diff = diffTrees(treeDigests(ws, "out"), treeDigests(clean.dir, "out"));
    assert.deepEqual(diff, [], `outputs differ from a clean build (${ctx()})`);
    await verify(cache, `after the final build (${ctx()})`);

    const again = await kiln(args(2), { cacheDir: cache });
    assert.equal(again.code, 0, describeRun(again));
    const s2 = parseJson(again);
    assert.equal(
      s2.fresh,
      s2.tasks.length,
      `the build after the final one is not a no-op:\n${describeRun(again)}`,
    );

    console.log(`seed ${SEED}: ${summary.tasks.length} tasks\n${log.join("\n")}`);
    console.log(
      `final build: ran ${summary.ran}, cached ${summary.cached}, fresh ${summary.fresh}`,
    );
    await removeTree(clean.dir);
    await removeTree(ws);
    await removeTree(cache);
  },
});
