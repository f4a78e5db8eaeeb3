import assert from "node:assert/strict";
import { LocalProcessRunner } from "../../builders/local.ts";
import { runBuild } from "../../engine/build.ts";
import { buildGraph } from "../../engine/graph.ts";
import { decodeInline, encodeInline } from "../../engine/inline.ts";
import { sha256Small } from "../../engine/sha256_small.ts";
import { LocalStore } from "../../engine/store.ts";
import { verifyCache } from "../../engine/store_admin.ts";
import { cmd } from "../../engine/task.ts";

Deno.test("decodeInline() returns the bytes only when they match the digest and size", () => {
  const bytes = new TextEncoder().encode("hello\n");
  const text = encodeInline(bytes);
  assert.deepEqual(decodeInline(text, sha256Small(bytes), 6), bytes);
  assert.equal(decodeInline(text, sha256Small("other"), 6), null);
  assert.equal(decodeInline(text, sha256Small(bytes), 7), null);
  assert.equal(decodeInline("%%%", sha256Small(bytes), 6), null);
});

Deno.test("runBuild() reruns a task instead of restoring corrupt inline content", async () => {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "kiln_inline_" }));
  try {
    const root = `${dir}/ws`, cache = `${dir}/cache`;
    Deno.mkdirSync(`${root}/src`, { recursive: true });
    Deno.writeTextFileSync(`${root}/src/a.txt`, "small output\n");
    const graph = buildGraph({
      root,
      pools: {},
      tasks: [{
        id: "copy",
        inputs: ["src/a.txt"],
        outputs: ["out/a.txt"],
        action: cmd("cp src/a.txt out/a.txt"),
      }],
    });
    const build = () =>
      runBuild(graph, {
        targets: [],
        jobs: 1,
        keepGoing: false,
        store: new LocalStore(cache),
        runner: new LocalProcessRunner(),
        env: () => undefined,
      });
    assert.equal((await build()).outcomes[0].status, "ran");
    // The small output went into the entry, not into a blob.
    const shard = [...Deno.readDirSync(`${cache}/ac`)][0].name;
    const entryPath = `${cache}/ac/${shard}/${
      [...Deno.readDirSync(`${cache}/ac/${shard}`)][0].name
    }`;
    const entry = JSON.parse(Deno.readTextFileSync(entryPath));
    assert.equal(atob(entry.inline["out/a.txt"]), "small output\n");

    entry.inline["out/a.txt"] = btoa("tampered output\n");
    Deno.chmodSync(entryPath, 0o644);
    Deno.writeTextFileSync(entryPath, JSON.stringify(entry));
    assert.deepEqual((await verifyCache(cache)).brokenEntries.length, 1);
    Deno.removeSync(`${root}/out/a.txt`);
    const second = await build();
    assert.equal(second.outcomes[0].status, "ran");
    assert.equal(Deno.readTextFileSync(`${root}/out/a.txt`), "small output\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
