import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { resolve } from "node:path";
import { ChunkStore } from "../../apt/chunk_store.ts";
import {
  buildPackagesFiles,
  CHUNK_EVERY,
  type IndexedPackage,
  packagesChunks,
} from "../../apt/packages_index.ts";

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

Deno.test("packagesChunks() sorts stanzas and cuts chunks only where names say", () => {
  const many = Array.from({ length: 1000 }, (_, i) => pkg(i));
  const shuffled = [...many].reverse();
  const chunks = packagesChunks(shuffled);
  const text = chunks.join("");
  assert.equal(text, many.map((p) => p.stanza + "\n").join(""));
  assert.ok(chunks.length > 1000 / CHUNK_EVERY / 3 && chunks.length < 1000 / CHUNK_EVERY * 3);
  // Adding one package changes at most the chunk it lands in (and splits it at most once).
  const more = packagesChunks([...many, pkg(1000, "2.0")]);
  const before = new Set(chunks);
  assert.ok(more.filter((c) => !before.has(c)).length <= 2);
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
    const fresh = await buildPackagesFiles(
      [packagesChunks([...list, pkg(5000)])],
      new ChunkStore(`${dir}/other`),
      { parallelism: 2, xz: "tool" },
    );
    assert.ok(!("reason" in fresh));
    assert.deepEqual(fresh[0].gz, again[0].gz);
    assert.deepEqual(fresh[0].xz, again[0].xz);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
