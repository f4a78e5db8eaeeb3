import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { resolve } from "node:path";
import { ChunkStore } from "../../apt/chunk_store.ts";
import {
  CHUNK_EVERY,
  type IndexedPackage,
  packagesChunks,
  XZ_BLOCK_EVERY,
} from "../../apt/index_chunks.ts";
import { buildPackagesFiles } from "../../apt/packages_index.ts";

const TMP = resolve("test/.tmp");

function pkg(i: number, version = "1.0"): IndexedPackage {
  const name = `pkg${String(i).padStart(4, "0")}`;
  return {
    pkg: name,
    version,
    arch: "amd64",
    poolRel: `pool/main/p/${name}/${name}_${version}_amd64.deb`,
    stanza: `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nDescription: n${i}\n`,
    sig: `sig-${i}`,
  };
}

async function unxz(bytes: Uint8Array): Promise<string> {
  const child = new Deno.Command("xz", { args: ["-dc"], stdin: "piped", stdout: "piped" }).spawn();
  const w = child.stdin.getWriter();
  const [out] = await Promise.all([child.output(), w.write(bytes).then(() => w.close())]);
  assert.ok(out.success);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("packagesChunks() sorts stanzas and cuts chunks and xz blocks only where names say", () => {
  const many = Array.from({ length: 1000 }, (_, i) => pkg(i));
  const shuffled = [...many].reverse();
  const chunks = packagesChunks(shuffled);
  const text = chunks.map((c) => c.join("")).join("");
  assert.equal(text, many.map((p) => p.stanza + "\n").join(""));
  assert.ok(chunks.length > 1000 / CHUNK_EVERY / 3 && chunks.length < 1000 / CHUNK_EVERY * 3);
  const blocks = chunks.flat();
  assert.ok(blocks.length > 1000 / XZ_BLOCK_EVERY / 3 && blocks.length < 1000 / XZ_BLOCK_EVERY * 3);
  assert.ok(blocks.length > chunks.length, "some chunks hold several xz blocks");
  // Adding one package changes at most the chunk it lands in (and splits it at most once), and
  // in it at most the xz block it lands in.
  const more = packagesChunks([...many, pkg(1000, "2.0"), pkg(500, "2.0")]);
  const before = new Set(chunks.map((c) => c.join("")));
  assert.ok(more.filter((c) => !before.has(c.join(""))).length <= 4);
  const beforeBlocks = new Set(blocks);
  assert.equal(more.flat().filter((b) => !beforeBlocks.has(b)).length, 2);
});

Deno.test("packagesChunks() of nothing is no chunks", () => {
  assert.deepEqual(packagesChunks([]), []);
});

Deno.test("buildPackagesFiles() writes gz and xz that decode to Packages, compressing new chunks only", async () => {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-packages-" });
  try {
    const list = Array.from({ length: 600 }, (_, i) => pkg(i));
    const store = new ChunkStore(dir);
    const first = await buildPackagesFiles([packagesChunks(list), []], store, {
      parallelism: 2,
      xz: "tool",
    });
    assert.ok(!("reason" in first));
    const plain = new TextDecoder().decode(first[0].plain);
    assert.equal(plain, list.map((p) => p.stanza + "\n").join(""));
    assert.equal(new TextDecoder().decode(gunzipSync(first[0].gz)), plain);
    assert.equal(await unxz(first[0].xz), plain);
    assert.equal(first[1].plain.length, 0);
    assert.equal(gunzipSync(first[1].gz).length, 0);
    assert.equal(await unxz(first[1].xz), "");
    await store.prune();
    const stored = () => new Set([...Deno.readDirSync(`${dir}/chunks`)].map((e) => e.name));
    const had = stored();

    // One more package: one or two chunks are new; the rest come from the store.
    const store2 = new ChunkStore(dir);
    const next = await buildPackagesFiles(
      [packagesChunks([...list, pkg(5000)])],
      store2,
      { parallelism: 2, xz: "tool", xzTool: "/nonexistent/xz-would-fail-if-run-for-old-chunks" },
    );
    // The new chunk needs xz, which is absent: the failure proves old chunks were not recompressed.
    assert.ok("reason" in next);
    const again = await buildPackagesFiles([packagesChunks([...list, pkg(5000)])], store2, {
      parallelism: 1,
      xz: "tool",
    });
    assert.ok(!("reason" in again));
    await store2.prune();
    const now = stored();
    const added = [...now].filter((n) => !had.has(n));
    assert.ok(added.length >= 2 && added.length <= 4, `new chunk files: ${added.length}`);
    // Same content, same bytes, however it was reached.
    const other = new ChunkStore(`${dir}/other`);
    const fresh = await buildPackagesFiles([packagesChunks([...list, pkg(5000)])], other, {
      parallelism: 2,
      xz: "tool",
    });
    await other.flush();
    assert.ok(!("reason" in fresh));
    assert.deepEqual(fresh[0].gz, again[0].gz);
    assert.deepEqual(fresh[0].xz, again[0].xz);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("buildPackagesFiles() compresses with xz only the block a package is added to when the chunk's other blocks are stored", async () => {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-packages-" });
  try {
    const list = Array.from({ length: 600 }, (_, i) => pkg(i));
    const store = new ChunkStore(dir);
    const first = await buildPackagesFiles([packagesChunks(list)], store, { parallelism: 2 });
    assert.ok(!("reason" in first));
    await store.flush(); // the chunks are written on other threads
    // A second version of a package in the middle: its chunk is new, and of its blocks only one.
    const puts: string[] = [];
    class Spy extends ChunkStore {
      override put(key: string, bytes: Uint8Array): void {
        puts.push(key);
        super.put(key, bytes);
      }
    }
    const chunks = packagesChunks([...list, pkg(300, "2.0")]);
    const spy = new Spy(dir);
    const next = await buildPackagesFiles([chunks], spy, { parallelism: 2 });
    assert.ok(!("reason" in next));
    await spy.flush();
    const xzPuts = puts.filter((n) => !n.endsWith(".gz"));
    assert.equal(xzPuts.length, 1, `xz blocks compressed: ${xzPuts.join(", ")}`);
    assert.equal(puts.length, 2, "one gzip member and one xz block");
    const edited = next[0].chunks.find((c) => ChunkStore.gzName(c.key) === puts[0])!;
    assert.ok(edited.blocks.length > 1, "the chunk holds several blocks, the others reused");
    assert.equal(await unxz(next[0].xz), chunks.map((c) => c.join("")).join(""));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
