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

/** `text` with `rel` and `sig` in it, as a packed APT list line holds them, and their places. */
function line(rel: string, sig: string): [string, number, number, number, number] {
  const text = `pkg\t1.0\tamd64\t${rel}\t${sig}\nnext\t2\tall\tpool/x/y/z.deb\t1:2:3:4`;
  const a = text.indexOf(rel);
  return [text, a, a + rel.length, a + rel.length + 1, a + rel.length + 1 + sig.length];
}

Deno.test("TreeStat.matches() agrees with comparing statFile()'s signature when the file changes or not", async () => {
  const root = await makeTmp("tree-stat-");
  try {
    const rels = [
      "pool/main/h/hello/hello_1.0_amd64.deb",
      "pool/main/h/hello/hello_2.0_amd64.deb",
      "pool/x.deb", // too shallow for a folder handle
      "pool/main/é/été/été_1_all.deb", // not ASCII
    ];
    for (const rel of rels) {
      Deno.mkdirSync(`${root}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
      Deno.writeTextFileSync(`${root}/${rel}`, rel);
    }
    // mtime at the epoch: its signature part is the nanoseconds alone ("0")
    Deno.utimeSync(`${root}/${rels[1]}`, 0, 0);
    using tree = new TreeStat(root);
    for (const rel of rels) {
      const sig = statFile(`${root}/${rel}`)!.sig;
      assert.ok(tree.matches(...line(rel, sig)), rel);
      const [size, mtime, ino, ctime] = sig.split(":");
      const wrong = [
        `${Number(size) + 1}:${mtime}:${ino}:${ctime}`,
        `0${size}:${mtime}:${ino}:${ctime}`, // same number, not the same text
        `${size}:${mtime}1:${ino}:${ctime}`,
        `${size}:${mtime.slice(0, -1)}:${ino}:${ctime}`,
        `${size}:${mtime}:${Number(ino) + 10}:${ctime}`,
        `${size}:${mtime}:${ino}:${ctime.replace(/.$/, (d) => String((Number(d) + 1) % 10))}`,
        `${size}:${mtime}:${ino}`,
        `${size}:${mtime}:${ino}:${ctime}:`,
      ];
      for (const w of wrong) assert.equal(tree.matches(...line(rel, w)), false, `${rel} ${w}`);
    }
    const rel = rels[0];
    const sig = statFile(`${root}/${rel}`)!.sig;
    Deno.writeTextFileSync(`${root}/${rel}`, "changed");
    assert.equal(tree.matches(...line(rel, sig)), false, "rewritten");
    Deno.removeSync(`${root}/${rel}`);
    assert.equal(tree.matches(...line(rel, sig)), false, "gone");
  } finally {
    await removeTree(root);
  }
});
