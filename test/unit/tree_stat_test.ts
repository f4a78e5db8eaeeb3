import assert from "node:assert/strict";
import { statFile, TreeStat } from "../../engine/stat.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

Deno.test("TreeStat.stat() gives statFile()'s signature for files at every depth", async () => {
  const root = await makeTmp("tree-stat-");
  try {
    const rels = ["top.deb", "pool/x.deb", "pool/main/h/hello/hello_1.0_amd64.deb"];
    for (const rel of rels) {
      Deno.mkdirSync(`${root}/${rel.slice(0, rel.lastIndexOf("/") + 1)}`, { recursive: true });
      Deno.writeTextFileSync(`${root}/${rel}`, rel);
    }
    using tree = new TreeStat(root);
    for (const rel of rels) {
      const got = tree.stat(rel);
      assert.ok(got, rel);
      assert.equal(got.sig, statFile(`${root}/${rel}`)!.sig, rel);
      assert.equal(got.kind, "file");
      assert.equal(got.size, rel.length);
    }
  } finally {
    await removeTree(root);
  }
});

Deno.test("TreeStat.stat() sees a file rewritten through its open folder handle, and null when gone", async () => {
  const root = await makeTmp("tree-stat-");
  try {
    const rel = "pool/main/h/hello/hello_1.0_amd64.deb";
    Deno.mkdirSync(`${root}/pool/main/h/hello`, { recursive: true });
    Deno.writeTextFileSync(`${root}/${rel}`, "one");
    using tree = new TreeStat(root);
    const before = tree.stat(rel)!;
    Deno.writeTextFileSync(`${root}/${rel}`, "three");
    const after = tree.stat(rel)!;
    assert.notEqual(after.sig, before.sig);
    assert.equal(after.size, 5);
    Deno.removeSync(`${root}/${rel}`);
    assert.equal(tree.stat(rel), null);
    assert.equal(tree.stat("pool/other/x/y/z.deb"), null, "a folder that does not exist");
  } finally {
    await removeTree(root);
  }
});
