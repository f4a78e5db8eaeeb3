import assert from "node:assert/strict";
import { statFile } from "../../engine/stat.ts";
import { createHash } from "node:crypto";
import { filesystemType } from "../../engine/fs_probe.ts";
import { type ActionEntry, LINK_THRESHOLD, LocalStore } from "../../engine/store.ts";

function sha(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** True when `p` exists (without following a final symlink). */
const exists = (p: string): boolean => statFile(p) !== null;

/** A temp folder holding a store (`store/`) and a scratch workspace (`ws/`). */
async function withStore(body: (store: LocalStore, ws: string) => Promise<void>): Promise<void> {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "kiln_store_" }));
  Deno.mkdirSync(`${dir}/ws`);
  try {
    await body(new LocalStore(`${dir}/store`), `${dir}/ws`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `text` to `abs` and returns its digest and size. */
function file(abs: string, text: string): { digest: string; size: number } {
  Deno.writeTextFileSync(abs, text);
  return { digest: sha(text), size: new TextEncoder().encode(text).length };
}

/** Writes `size` bytes (a pattern that depends on `seed`) to `abs`. */
function bigFile(abs: string, size: number, seed: number): { digest: string; size: number } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  Deno.writeFileSync(abs, bytes);
  return { digest: sha(bytes), size };
}

function entry(key: string, digest: string, size: number): ActionEntry {
  return {
    v: 1,
    key,
    task: "t",
    outputs: { files: [{ path: "out/a.txt", digest, size, mode: 0o644 }], dirs: [], symlinks: [] },
    log: null,
    durationMs: 3,
    createdAt: new Date(0).toISOString(),
  };
}

function tmpFiles(store: LocalStore): string[] {
  try {
    return [...Deno.readDirSync(`${store.dir}/tmp`)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Writes `data` over the start of `path` in place (same inode), as a write through a link. */
function overwriteInPlace(path: string, data: Uint8Array): void {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { write: true }); // root ignores the read-only mode
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    Deno.chmodSync(path, 0o644); // not root: chmod moves ctime only, not the sealed mtime
    f = Deno.openSync(path, { write: true });
  }
  try {
    f.writeSync(data);
  } finally {
    f.close();
  }
}

Deno.test("LocalStore.putEntry() and putBlob() stay invisible until flush()", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "hello");
    const key = sha("key-1");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.putEntry(entry(key, digest, size));
    assert.equal(store.pending, 2);
    assert.equal(await store.getEntry(key), null, "entry visible before flush");
    assert.equal(exists(store.blobPath(digest)), false, "blob visible before flush");
    assert.equal(await store.readBlobText(digest), null);

    await store.flush();
    assert.equal(store.pending, 0);
    assert.deepEqual(await store.getEntry(key), entry(key, digest, size));
    assert.equal(await store.readBlobText(digest), "hello");
    assert.equal(Deno.statSync(store.blobPath(digest)).mode! & 0o777, 0o444, "blobs are read-only");
    assert.deepEqual(tmpFiles(store), []);
  });
});

Deno.test("LocalStore.getEntry() returns null and drops the file when an entry is unreadable", async () => {
  await withStore(async (store) => {
    const key = sha("key-junk");
    Deno.mkdirSync(`${store.dir}/ac/${key.slice(0, 2)}`, { recursive: true });
    Deno.writeTextFileSync(store.entryPath(key), "{not json");
    assert.equal(await store.getEntry(key), null);
    assert.equal(exists(store.entryPath(key)), false);
  });
});

Deno.test("LocalStore.putBlob() keeps executable bits as read-only r-x", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/run.sh`, "#!/bin/sh\necho hi\n");
    Deno.chmodSync(`${ws}/run.sh`, 0o755);
    await store.putBlob(`${ws}/run.sh`, digest, size);
    await store.flush();
    assert.equal(Deno.statSync(store.blobPath(digest)).mode! & 0o777, 0o555);
  });
});

Deno.test("LocalStore.restoreBlob() returns blob-missing when the blob is not stored", async () => {
  await withStore(async (store, ws) => {
    const miss = await store.restoreBlob(sha("nothing"), 7, 0o644, `${ws}/out/x.txt`);
    assert.equal(miss, "blob-missing");
    assert.equal(exists(`${ws}/out/x.txt`), false);
  });
});

Deno.test("LocalStore.restoreBlob() returns blob-corrupt and deletes the blob when its bytes changed", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "original");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.flush();
    const blob = store.blobPath(digest);
    Deno.chmodSync(blob, 0o644);
    Deno.writeTextFileSync(blob, "ORIGINAL"); // same size, other bytes
    Deno.chmodSync(blob, 0o444);

    const miss = await store.restoreBlob(digest, size, 0o644, `${ws}/out/a.txt`);
    assert.equal(miss, "blob-corrupt");
    assert.equal(exists(blob), false, "a corrupt blob is removed");
    assert.equal(exists(`${ws}/out/a.txt`), false, "nothing is restored");
    assert.equal(await store.restoreBlob(digest, size, 0o644, `${ws}/out/a.txt`), "blob-missing");
  });
});

Deno.test("LocalStore.restoreBlob() returns blob-corrupt when the blob has the wrong size", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "original");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.flush();
    assert.equal(await store.restoreBlob(digest, size + 1, 0o644, `${ws}/b.txt`), "blob-corrupt");
    assert.equal(exists(store.blobPath(digest)), false);
  });
});

Deno.test("LocalStore.restoreBlob() copies a small blob with the requested mode", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "small output");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.flush();
    const dest = `${ws}/out/deep/a.txt`;
    Deno.mkdirSync(`${ws}/out/deep`, { recursive: true });
    Deno.writeTextFileSync(dest, "stale content to be replaced");

    assert.equal(await store.restoreBlob(digest, size, 0o640, dest), null);
    assert.equal(Deno.readTextFileSync(dest), "small output");
    const d = Deno.statSync(dest), b = Deno.statSync(store.blobPath(digest));
    assert.notEqual(d.ino, b.ino, "a small blob is copied, not linked");
    assert.equal(d.mode! & 0o777, 0o640);
    assert.equal(d.nlink, 1);

    Deno.writeTextFileSync(dest, "edited in the workspace");
    assert.equal(await store.readBlobText(digest), "small output", "the blob is unaffected");
    assert.equal(await store.restoreBlob(digest, size, 0o644, `${ws}/again.txt`), null);
    assert.equal(Deno.readTextFileSync(`${ws}/again.txt`), "small output");
  });
});

Deno.test("LocalStore.restoreBlob() creates missing parent folders of the destination", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "x");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.flush();
    assert.equal(await store.restoreBlob(digest, size, 0o644, `${ws}/new/dir/a.txt`), null);
    assert.equal(Deno.readTextFileSync(`${ws}/new/dir/a.txt`), "x");
  });
});

const onExt4 = (() => {
  const dir = Deno.makeTempDirSync({ prefix: "kiln_fs_" });
  try {
    return filesystemType(dir) === "ext4";
  } finally {
    Deno.removeSync(dir);
  }
})();

Deno.test({
  name: "LocalStore.restoreBlob() hard-links a large blob read-only when on ext4",
  ignore: !onExt4,
  fn: async () => {
    await withStore(async (store, ws) => {
      const src = `${ws}/big.bin`;
      const { digest, size } = bigFile(src, LINK_THRESHOLD + 4096, 1);
      await store.putBlob(src, digest, size);
      await store.flush();
      const blob = store.blobPath(digest);
      assert.ok(exists(`${blob}.seal`), "a large blob has a seal");

      const dest = `${ws}/out/big.bin`;
      assert.equal(await store.restoreBlob(digest, size, 0o644, dest), null);
      const d = Deno.statSync(dest), b = Deno.statSync(blob);
      assert.equal(d.ino, b.ino, "linked");
      assert.equal(d.mode! & 0o777, 0o444, "read-only, whatever mode was asked");
      assert.equal(sha(Deno.readFileSync(dest)), digest);

      // An executable mode cannot be honored by a link to a non-executable blob: copied.
      const exe = `${ws}/out/big.exe`;
      assert.equal(await store.restoreBlob(digest, size, 0o755, exe), null);
      assert.notEqual(Deno.statSync(exe).ino, b.ino);
      assert.equal(Deno.statSync(exe).mode! & 0o777, 0o755);
    });
  },
});

Deno.test({
  name:
    "LocalStore.restoreBlob() returns blob-corrupt when a linked large file was modified in place",
  ignore: !onExt4,
  fn: async () => {
    await withStore(async (store, ws) => {
      const src = `${ws}/big.bin`;
      const { digest, size } = bigFile(src, LINK_THRESHOLD, 7);
      await store.putBlob(src, digest, size);
      await store.flush();
      const dest = `${ws}/out/big.bin`;
      assert.equal(await store.restoreBlob(digest, size, 0o644, dest), null);
      assert.equal(Deno.statSync(dest).ino, Deno.statSync(store.blobPath(digest)).ino);

      // Let the coarse kernel clock tick past the seal's mtime, then write through the link.
      await new Promise((r) => setTimeout(r, 30));
      overwriteInPlace(dest, new TextEncoder().encode("tampered"));
      assert.equal(Deno.statSync(dest).size, size, "same size: only the seal can tell");

      const again = `${ws}/out/again.bin`;
      assert.equal(await store.restoreBlob(digest, size, 0o644, again), "blob-corrupt");
      assert.equal(exists(again), false, "altered bytes are never served");
      assert.equal(exists(store.blobPath(digest)), false);
      assert.equal(exists(`${store.blobPath(digest)}.seal`), false);
    });
  },
});

Deno.test({
  name: "LocalStore.restoreBlob() rehashes and reseals a large blob when its seal is missing",
  ignore: !onExt4,
  fn: async () => {
    await withStore(async (store, ws) => {
      const src = `${ws}/big.bin`;
      const { digest, size } = bigFile(src, LINK_THRESHOLD, 3);
      await store.putBlob(src, digest, size);
      await store.flush();
      const seal = `${store.blobPath(digest)}.seal`;
      Deno.removeSync(seal);
      assert.equal(await store.restoreBlob(digest, size, 0o644, `${ws}/out/big.bin`), null);
      assert.ok(exists(seal), "resealed after a successful hash");
    });
  },
});

Deno.test("LocalStore.putBlob() skips a blob that is already stored", async () => {
  await withStore(async (store, ws) => {
    const { digest, size } = file(`${ws}/a.txt`, "same");
    await store.putBlob(`${ws}/a.txt`, digest, size);
    await store.flush();
    const ino = Deno.statSync(store.blobPath(digest)).ino;
    await store.putBlob(`${ws}/a.txt`, digest, size);
    assert.equal(store.pending, 0);
    assert.deepEqual(tmpFiles(store), []);
    assert.equal(Deno.statSync(store.blobPath(digest)).ino, ino);
  });
});

Deno.test("LocalStore.discard() removes pending temporary files and publishes nothing", async () => {
  await withStore(async (store, ws) => {
    const small = file(`${ws}/a.txt`, "pending");
    const big = bigFile(`${ws}/big.bin`, LINK_THRESHOLD, 9);
    const key = sha("key-discard");
    await store.putBlob(`${ws}/a.txt`, small.digest, small.size);
    await store.putBlob(`${ws}/big.bin`, big.digest, big.size);
    await store.putEntry(entry(key, small.digest, small.size));
    assert.equal(store.pending, 4, "small blob, large blob, its seal, entry");
    assert.equal(tmpFiles(store).length, 4);

    store.discard();
    assert.equal(store.pending, 0);
    assert.deepEqual(tmpFiles(store), []);
    await store.flush();
    assert.equal(await store.getEntry(key), null);
    assert.equal(exists(store.blobPath(small.digest)), false);
    assert.equal(exists(store.blobPath(big.digest)), false);
  });
});
