import assert from "node:assert/strict";
import { type CachedDeb, IndexCache } from "../../apt/index_cache.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const deb = (i: number, sig = `sig-${i}`): CachedDeb => ({
  sig,
  size: 1000 + i,
  sha256: String(i).padStart(64, "0"),
  pkg: `pkg${i}`,
  version: "1.0",
  arch: "amd64",
});

const rel = (i: number) => `pool/main/p/pkg${i}/pkg${i}_1.0_amd64.deb`;
const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** A cache of `n` entries saved whole, as a first publish leaves it. */
function fullCache(dir: string, n: number): Set<string> {
  const c = IndexCache.load(dir);
  const keep = new Set<string>();
  for (let i = 0; i < n; i++) {
    c.set(rel(i), deb(i));
    keep.add(rel(i));
  }
  c.setIndex("dists/stable/main/binary-amd64/Packages", "idx-1");
  c.save(keep, new Set(["dists/stable/main/binary-amd64/Packages"]));
  return keep;
}

Deno.test("IndexCache.save() appends a journal line for a small change and load() replays it", async () => {
  const dir = await makeTmp("index-cache-");
  try {
    const keep = fullCache(dir, 100);
    assert.deepEqual(names(dir), ["apt-index-cache.json"]);
    const whole = Deno.readTextFileSync(`${dir}/apt-index-cache.json`);

    const c = IndexCache.load(dir);
    c.set(rel(100), deb(100));
    c.set(rel(5), deb(5, "sig-5b"));
    keep.add(rel(100));
    keep.delete(rel(7));
    c.setIndex("dists/stable/main/binary-amd64/Packages", "idx-2");
    c.save(keep, new Set(["dists/stable/main/binary-amd64/Packages"]));
    assert.equal(Deno.readTextFileSync(`${dir}/apt-index-cache.json`), whole, "not rewritten");
    const lines = Deno.readTextFileSync(`${dir}/apt-index-cache.log`).trim().split("\n");
    assert.equal(lines.length, 1);

    const again = IndexCache.load(dir);
    assert.deepEqual(again.get(rel(100), "sig-100"), deb(100));
    assert.equal(again.get(rel(5), "sig-5"), undefined, "the old signature no longer matches");
    assert.deepEqual(again.get(rel(5), "sig-5b"), deb(5, "sig-5b"));
    assert.equal(again.latest(rel(7)), undefined, "dropped entries stay dropped");
    assert.ok(again.wroteIndex("dists/stable/main/binary-amd64/Packages", "idx-2"));
    assert.deepEqual(again.get(rel(50), "sig-50"), deb(50));
  } finally {
    await removeTree(dir);
  }
});

Deno.test("IndexCache.save() rewrites the whole file and empties the journal after 64 lines", async () => {
  const dir = await makeTmp("index-cache-");
  try {
    const keep = fullCache(dir, 100);
    for (let i = 0; i < 65; i++) {
      const c = IndexCache.load(dir);
      c.set(rel(i), deb(i, `sig-${i}-v2`));
      c.save(keep, new Set());
      const journal = names(dir).includes("apt-index-cache.log");
      if (i < 64) assert.ok(journal, `line ${i + 1} is journaled`);
      else assert.ok(!journal, "the 65th save writes the file whole");
    }
    const c = IndexCache.load(dir);
    for (let i = 0; i < 65; i++) {
      assert.deepEqual(c.get(rel(i), `sig-${i}-v2`), deb(i, `sig-${i}-v2`));
    }
    assert.equal(c.wroteIndex("dists/stable/main/binary-amd64/Packages", "idx-1"), false);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("IndexCache.load() keeps the lines before a torn last one, and a large change is saved whole", async () => {
  const dir = await makeTmp("index-cache-");
  try {
    const keep = fullCache(dir, 100);
    const c = IndexCache.load(dir);
    c.set(rel(100), deb(100));
    keep.add(rel(100));
    c.save(keep, new Set());
    Deno.writeTextFileSync(`${dir}/apt-index-cache.log`, '{"set":{"pool/x', { append: true });
    const loaded = IndexCache.load(dir);
    assert.deepEqual(loaded.get(rel(100), "sig-100"), deb(100));

    // Half the entries changed: written whole, journal gone.
    for (let i = 0; i < 60; i++) loaded.set(rel(i), deb(i, "new"));
    loaded.save(keep, new Set());
    assert.deepEqual(names(dir), ["apt-index-cache.json"]);
    assert.deepEqual(IndexCache.load(dir).get(rel(59), "new"), deb(59, "new"));
  } finally {
    await removeTree(dir);
  }
});
