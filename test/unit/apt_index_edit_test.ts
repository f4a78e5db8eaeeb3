import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ChunkStore } from "../../apt/chunk_store.ts";
import { editIndex } from "../../apt/index_edit.ts";
import {
  type IndexRecord,
  mayListNamed,
  packagesNamed,
  packPackages,
  unpackPackages,
} from "../../apt/index_record.ts";
import {
  CHUNK_MAX,
  chunkSorted,
  comparePackages,
  type IndexedPackage,
} from "../../apt/index_chunks.ts";
import {
  buildPackagesFiles,
  type IndexChunk,
  type PackagesFiles,
} from "../../apt/packages_index.ts";

const TMP = resolve("test/.tmp");

/** A seeded generator (mulberry32), so a failing case can be run again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pkg(name: string, version: string, arch: string, big: boolean): IndexedPackage {
  const poolRel = `pool/main/${name[0]}/${name}/${name}_${version}_${arch}.deb`;
  const body = big ? ` ${"lorem ipsum ".repeat(CHUNK_MAX / 48)}\n` : "";
  return {
    pkg: name,
    version,
    arch,
    poolRel,
    sig: `${name.length}:1:2:3`,
    stanza: `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\n` +
      `Filename: ${poolRel}\nDescription: ${name}\n${body}`,
  };
}

/** Builds `list` from scratch: its files, and the record kiln would keep of them. */
async function build(list: readonly IndexedPackage[], store: ChunkStore) {
  const cut = chunkSorted([...list].sort(comparePackages));
  const built = await buildPackagesFiles([cut.map((c) => c.blocks)], store, { parallelism: 2 });
  await store.flush();
  if ("reason" in built) throw new Error(built.message);
  const files = built[0];
  const record: IndexRecord = {
    sigs: ["a", "b", "c"],
    hashes: files.hashes,
    chunks: files.chunks.map((c, i) => ({ ...c, list: packPackages(cut[i].packages)! })),
  };
  return { files, record, lists: record.chunks.map((c) => c.list) };
}

async function buildEdited(chunks: readonly IndexChunk[], store: ChunkStore) {
  const built = await buildPackagesFiles([chunks], store, { parallelism: 2 });
  await store.flush();
  if ("reason" in built) throw new Error(built.message);
  return built[0];
}

function sameFiles(a: PackagesFiles, b: PackagesFiles, what: string): void {
  assert.equal(new TextDecoder().decode(a.plain), new TextDecoder().decode(b.plain), what);
  assert.deepEqual(a.gz, b.gz, `${what}: Packages.gz`);
  assert.deepEqual(a.xz, b.xz, `${what}: Packages.xz`);
  assert.deepEqual(a.hashes, b.hashes, `${what}: hashes`);
  assert.deepEqual(a.chunks, b.chunks, `${what}: chunk layout`);
}

for (const big of [false, true]) {
  Deno.test(`editIndex() gives the chunks a build from scratch gives, over random edits${big ? " of large stanzas" : ""}`, async () => {
    Deno.mkdirSync(TMP, { recursive: true });
    const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-index-edit-" });
    try {
      const rnd = random(big ? 7 : 42);
      const names = Array.from({ length: big ? 120 : 2000 }, (_, i) => `p${(i * 7919) % 100003}`);
      const makeOne = (i: number) =>
        pkg(
          names[Math.floor(rnd() * names.length)],
          `1.${i}`,
          rnd() < 0.1 ? "all" : "amd64",
          big && rnd() < 0.2,
        );
      let list = Array.from({ length: big ? 60 : 900 }, (_, i) => makeOne(i));
      list = [...new Map(list.map((p) => [p.poolRel, p])).values()];
      let current = await build(list, new ChunkStore(`${dir}/scratch`));
      assert.ok(current.record.chunks.length > (big ? 3 : 6), "several chunks to edit");
      if (big) {
        const cutByLength = current.record.chunks.some((c) => c.plain >= CHUNK_MAX);
        assert.ok(cutByLength, "some chunks are cut by length, not by name");
      }
      for (let round = 0; round < (big ? 12 : 40); round++) {
        // Take a few out (sometimes the first of a chunk), put a few in (sometimes new versions).
        const remove = new Set<string>();
        for (let k = Math.floor(rnd() * 4); k > 0; k--) {
          const chunk = current.record.chunks[Math.floor(rnd() * current.record.chunks.length)];
          const ps = unpackPackages(chunk.list);
          remove.add(ps[rnd() < 0.4 ? 0 : Math.floor(rnd() * ps.length)].poolRel);
        }
        const add: IndexedPackage[] = [];
        for (let k = Math.floor(rnd() * 4); k > 0; k--) add.push(makeOne(1000 + round * 10 + k));
        const addRels = new Set(add.map((p) => p.poolRel));
        for (const rel of addRels) remove.add(rel);
        const next = [...list.filter((p) => !remove.has(p.poolRel)), ...add];

        const edited = editIndex(current.record, current.files, { remove, add });
        assert.ok(edited, `round ${round}: the record adds up`);
        const got = await buildEdited(edited.chunks, new ChunkStore(`${dir}/edit`));
        const want = await build(next, new ChunkStore(`${dir}/scratch`));
        sameFiles(got, want.files, `round ${round}`);
        assert.deepEqual(edited.lists, want.lists, `round ${round}: packed lists`);
        const reused = edited.chunks.filter((c) =>
          typeof c !== "string" && !Array.isArray(c)
        ).length;
        assert.ok(
          reused >= want.record.chunks.length - 2 - 2 * (remove.size + add.length),
          `round ${round}: only touched chunks are cut again (${reused} reused)`,
        );
        list = next;
        current = want;
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("editIndex() reuses every chunk when nothing changes, fills and empties an index, and refuses a record that does not add up", async () => {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-index-edit-" });
  try {
    const list = Array.from({ length: 300 }, (_, i) => pkg(`q${i}`, "1.0", "amd64", false));
    const { files, record } = await build(list, new ChunkStore(dir));
    const same = editIndex(record, files, { remove: new Set(), add: [] });
    assert.ok(same);
    assert.ok(same.chunks.every((c) => typeof c !== "string" && !Array.isArray(c)));
    assert.deepEqual(same.replaced, []);
    const short = { ...files, gz: files.gz.subarray(1) };
    assert.equal(editIndex(record, short, { remove: new Set(), add: [] }), null);

    // From an empty index: everything is added.
    const empty = await build([], new ChunkStore(dir));
    const filled = editIndex(empty.record, empty.files, { remove: new Set(), add: list });
    assert.ok(filled);
    sameFiles(await buildEdited(filled.chunks, new ChunkStore(dir)), files, "filled");
    // And back: everything removed.
    const all = new Set(list.map((p) => p.poolRel));
    const emptied = editIndex(record, files, { remove: all, add: [] });
    assert.ok(emptied);
    sameFiles(await buildEdited(emptied.chunks, new ChunkStore(dir)), empty.files, "emptied");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mayListNamed() passes every chunk that lists a name and skips the rest when packages repeat across chunks", () => {
  const rnd = random(3);
  // Several versions and architectures per name, stanzas large enough that some chunks are cut by
  // length in the middle of a name's packages.
  const list: IndexedPackage[] = [];
  for (let i = 0; i < 400; i++) {
    const name = `n${(i * 7919) % 1009}`;
    for (let v = 0; v < 1 + Math.floor(rnd() * 3); v++) {
      list.push(pkg(name, `1.${v}`, v % 2 ? "all" : "amd64", rnd() < 0.02));
    }
  }
  const lists = chunkSorted([...list].sort(comparePackages)).map((c) => packPackages(c.packages)!);
  assert.ok(lists.length > 5, "several chunks");
  for (const name of [...new Set(list.map((p) => p.pkg)), "a", "n5000", "zz"]) {
    const names = new Set([name]);
    const all = lists.flatMap((l) => packagesNamed(l, names));
    const passed = lists.filter((l) => mayListNamed(l, names));
    assert.deepEqual(passed.flatMap((l) => packagesNamed(l, names)), all, name);
    assert.ok(passed.length <= 2 + all.length, `${name}: ${passed.length} chunks passed`);
    assert.equal(all.length, list.filter((p) => p.pkg === name).length, name);
  }
  assert.equal(mayListNamed("", new Set(["x"])), false);
});
