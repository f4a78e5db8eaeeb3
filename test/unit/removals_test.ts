import assert from "node:assert/strict";
import { Removals, removeVia, replaceVia } from "../../engine/removals.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/** A remover that only records what it was asked to delete, until `run()` deletes it. */
function heldRemover() {
  const asked: string[] = [];
  return {
    asked,
    start: (path: string) => {
      asked.push(path);
      return Promise.resolve();
    },
    run: () => asked.forEach((p) => Deno.removeSync(p)),
  };
}

Deno.test("Removals.replace() keeps the replaced file in the trash until it is removed there", async () => {
  const dir = await makeTmp("removals-");
  try {
    const target = `${dir}/pub/Release`;
    Deno.mkdirSync(`${dir}/pub`);
    Deno.writeTextFileSync(target, "old");
    using before = Deno.openSync(target);
    const held = heldRemover();
    const removals = new Removals(`${dir}/trash`, held.start);
    removals.replace(target, "new");
    await removals.settle();
    assert.equal(Deno.readTextFileSync(target), "new");
    assert.equal(held.asked.length, 1);
    assert.ok(held.asked[0].startsWith(`${dir}/trash/`), held.asked[0]);
    assert.equal(Deno.readTextFileSync(held.asked[0]), "old", "the old inode, by its trash name");
    assert.equal(before.statSync().nlink, 1, "the rename dropped a link, not the file");
    held.run();
    assert.equal(before.statSync().nlink, 0);
    assert.deepEqual([...Deno.readDirSync(`${dir}/trash`)], []);
    assert.deepEqual([...Deno.readDirSync(`${dir}/pub`)].map((e) => e.name), ["Release"]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.replace() writes a new file, and settle() frees replaced ones on other threads", async () => {
  const dir = await makeTmp("removals-");
  try {
    const removals = new Removals(`${dir}/trash`);
    removals.replace(`${dir}/a`, new Uint8Array([1, 2, 3])); // nothing to replace
    removals.replace(`${dir}/a`, "second");
    removals.replace(`${dir}/a`, "third");
    await removals.settle();
    assert.equal(Deno.readTextFileSync(`${dir}/a`), "third");
    assert.deepEqual([...Deno.readDirSync(`${dir}/trash`)], []);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a", "trash"]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.replace() replaces in place when the trash is on another filesystem", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await makeTmp("removals-");
  const trash = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "kiln-trash-" });
  try {
    if (Deno.statSync(trash).dev === Deno.statSync(dir).dev) return; // one filesystem here
    Deno.writeTextFileSync(`${dir}/f`, "old");
    const held = heldRemover();
    const removals = new Removals(trash, held.start);
    removals.replace(`${dir}/f`, "new");
    removals.replace(`${dir}/f`, "newer");
    await removals.settle();
    assert.equal(Deno.readTextFileSync(`${dir}/f`), "newer");
    assert.deepEqual(held.asked, [], "no link across filesystems, so nothing to remove later");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f"]);
  } finally {
    Deno.removeSync(trash, { recursive: true });
    await removeTree(dir);
  }
});

Deno.test("Removals.replace() throws and leaves no temporary file when the write fails", async () => {
  const dir = await makeTmp("removals-");
  try {
    Deno.mkdirSync(`${dir}/Release`); // a folder where the file should go: the rename fails
    const removals = new Removals(`${dir}/trash`);
    assert.throws(() => removals.replace(`${dir}/Release`, "new"));
    await removals.settle();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["Release", "trash"]);
    assert.equal(Deno.statSync(`${dir}/Release`).isDirectory, true);
    assert.throws(() => new Removals(`${dir}/trash`).replace(`${dir}/missing/x`, "new"));
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.sweep() removes what a killed publish left in the trash", async () => {
  const dir = await makeTmp("removals-");
  try {
    Deno.mkdirSync(`${dir}/trash`);
    for (const n of ["old.tmp-1-a", "old.tmp-2-b"]) Deno.writeTextFileSync(`${dir}/trash/${n}`, n);
    const removals = new Removals(`${dir}/trash`);
    removals.sweep();
    await removals.settle();
    assert.deepEqual([...Deno.readDirSync(`${dir}/trash`)], []);
    new Removals(`${dir}/none`).sweep(); // no trash folder: nothing to do
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.prepare() makes the temporary file and the trash link that replace() then uses", async () => {
  const dir = await makeTmp("removals-");
  try {
    const target = `${dir}/Release`;
    Deno.writeTextFileSync(target, "old");
    const held = heldRemover();
    const removals = new Removals(`${dir}/trash`, held.start);
    await removals.prepare(target);
    const tmp = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".tmp-"));
    assert.equal(tmp.length, 1, "the temporary file, made ahead");
    const trash = [...Deno.readDirSync(`${dir}/trash`)].map((e) => e.name);
    assert.equal(trash.length, 1);
    assert.equal(Deno.readTextFileSync(`${dir}/trash/${trash[0]}`), "old");
    assert.equal(Deno.readTextFileSync(target), "old", "nothing replaced yet");
    removals.replace(target, "new");
    await removals.settle();
    assert.equal(Deno.readTextFileSync(target), "new");
    assert.deepEqual(held.asked, [`${dir}/trash/${trash[0]}`], "the prepared link is freed");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["Release", "trash"]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.settle() removes what was prepared and not used, leaving the file", async () => {
  const dir = await makeTmp("removals-");
  try {
    Deno.writeTextFileSync(`${dir}/kept`, "kept");
    const removals = new Removals(`${dir}/trash`);
    await removals.prepare(`${dir}/kept`);
    removals.prepare(`${dir}/missing`); // nothing to link: only its temporary file is made
    await removals.settle();
    assert.equal(Deno.readTextFileSync(`${dir}/kept`), "kept");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["kept", "trash"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/trash`)], []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("Removals.replace() does it all itself when the preparation is not ready yet", async () => {
  const dir = await makeTmp("removals-");
  try {
    Deno.writeTextFileSync(`${dir}/f`, "old");
    const removals = new Removals(`${dir}/trash`);
    const ready = removals.prepare(`${dir}/f`);
    removals.replace(`${dir}/f`, "new"); // before an event-loop turn: not prepared yet
    await ready;
    removals.prepare(`${dir}/g`);
    await removals.prepare(`${dir}/g`); // the same preparation
    removals.replace(`${dir}/g`, new Uint8Array(70_000).fill(7));
    await removals.settle();
    assert.equal(Deno.readTextFileSync(`${dir}/f`), "new");
    assert.deepEqual(Deno.readFileSync(`${dir}/g`), new Uint8Array(70_000).fill(7));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["f", "g", "trash"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/trash`)], []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("removeVia() and replaceVia() work here when given no Removals, and through them when given", async () => {
  const dir = await makeTmp("removals-");
  try {
    replaceVia(undefined, `${dir}/a`, "one");
    replaceVia(undefined, `${dir}/a`, "two");
    assert.equal(Deno.readTextFileSync(`${dir}/a`), "two");
    removeVia(undefined, `${dir}/a`);
    removeVia(undefined, `${dir}/a`); // already gone: no error
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const held = heldRemover();
    const removals = new Removals(`${dir}/trash`, held.start);
    replaceVia(removals, `${dir}/b`, "one");
    replaceVia(removals, `${dir}/b`, "two");
    removeVia(removals, `${dir}/b`);
    await removals.settle();
    assert.equal(held.asked.length, 2, "the replaced file's trash name, then b");
    assert.equal(held.asked[1], `${dir}/b`);
    assert.equal(Deno.readTextFileSync(`${dir}/b`), "two", "held: not removed yet");
  } finally {
    await removeTree(dir);
  }
});
