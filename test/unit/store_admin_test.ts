import assert from "node:assert/strict";
import { statFile } from "../../engine/stat.ts";
import { createHash } from "node:crypto";
import {
  cacheStats,
  cleanCache,
  gcCache,
  parseSize,
  verifyCache,
} from "../../engine/store_admin.ts";
import { hasNanosecondStat } from "../../engine/stat.ts";
import { type ActionEntry, LocalStore } from "../../engine/store.ts";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

function sha(data: string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** An empty store laid out like `LocalStore`'s. */
function makeStore(): string {
  const dir = Deno.makeTempDirSync({ prefix: "kiln-store-admin-" });
  for (const d of ["cas", "ac", "tmp"]) Deno.mkdirSync(`${dir}/${d}`);
  return dir;
}

function blobPath(dir: string, digest: string): string {
  return `${dir}/cas/${digest.slice(0, 2)}/${digest}`;
}

function entryPath(dir: string, key: string): string {
  return `${dir}/ac/${key.slice(0, 2)}/${key}`;
}

/** Stores `content` as a read-only blob named by its real digest; returns the digest. */
function putBlob(dir: string, content: string, opts: { seal?: boolean } = {}): string {
  const digest = sha(content);
  const p = blobPath(dir, digest);
  Deno.mkdirSync(`${dir}/cas/${digest.slice(0, 2)}`, { recursive: true });
  Deno.writeTextFileSync(p, content);
  Deno.chmodSync(p, 0o444);
  if (opts.seal) Deno.writeTextFileSync(`${p}.seal`, "0:0:0");
  return digest;
}

/** Stores an entry for task `task` referencing `files`, last used (mtime) at `usedAt`. */
function putEntry(
  dir: string,
  task: string,
  files: { digest: string; size: number }[],
  opts: { usedAt?: number; log?: string | null } = {},
): string {
  const key = sha(`key:${task}`);
  const entry: ActionEntry = {
    v: 1,
    key,
    task,
    outputs: {
      files: files.map((f, i) => ({
        path: `out/${i}`,
        digest: f.digest,
        size: f.size,
        mode: 0o644,
      })),
      dirs: [],
      symlinks: [],
    },
    log: opts.log ?? null,
    durationMs: 5,
    createdAt: new Date().toISOString(),
  };
  const p = entryPath(dir, key);
  Deno.mkdirSync(`${dir}/ac/${key.slice(0, 2)}`, { recursive: true });
  Deno.writeTextFileSync(p, JSON.stringify(entry));
  if (opts.usedAt !== undefined) Deno.utimeSync(p, new Date(opts.usedAt), new Date(opts.usedAt));
  return key;
}

/** True when `p` exists (without following a final symlink). */
const exists = (p: string): boolean => statFile(p) !== null;

/** A blob of `size` bytes whose content is unique to `tag`. */
function content(tag: string, size = 100): string {
  return (tag + ":").padEnd(size, "x");
}

Deno.test("cacheStats() counts entries, blobs, bytes and temporary files", () => {
  const dir = makeStore();
  try {
    const a = putBlob(dir, content("a", 100), { seal: true });
    const b = putBlob(dir, content("b", 250));
    const t0 = Date.UTC(2024, 0, 1);
    putEntry(dir, "one", [{ digest: a, size: 100 }], { usedAt: t0 });
    putEntry(dir, "two", [{ digest: b, size: 250 }], { usedAt: t0 + DAY });
    Deno.writeTextFileSync(`${dir}/tmp/123-abc`, "partial");

    const s = cacheStats(dir);
    assert.equal(s.dir, dir);
    assert.equal(s.entries, 2);
    assert.equal(s.blobs, 2, "seals are not blobs");
    assert.equal(s.blobBytes, 350);
    assert.equal(s.tmpFiles, 1);
    assert.equal(s.oldestEntry?.getTime(), t0);
    assert.equal(s.newestEntry?.getTime(), t0 + DAY);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cacheStats() reports an empty cache for a missing folder", () => {
  const s = cacheStats("/nonexistent/kiln-cache-for-test");
  assert.deepEqual(s, {
    dir: "/nonexistent/kiln-cache-for-test",
    entries: 0,
    blobs: 0,
    blobBytes: 0,
    tmpFiles: 0,
    oldestEntry: null,
    newestEntry: null,
  });
});

Deno.test("cacheStats() and verifyCache() read a store written by LocalStore", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kiln-store-admin-" });
  try {
    const src = `${dir}-src`;
    Deno.writeTextFileSync(src, content("real"));
    const digest = sha(content("real"));
    const store = new LocalStore(dir);
    await store.putBlob(src, digest, 100);
    await store.putEntry({
      v: 1,
      key: sha("k"),
      task: "t",
      outputs: { files: [{ path: "o", digest, size: 100, mode: 0o644 }], dirs: [], symlinks: [] },
      log: null,
      durationMs: 1,
      createdAt: new Date().toISOString(),
    });
    await store.flush();
    Deno.removeSync(src);
    const s = cacheStats(dir);
    assert.deepEqual([s.entries, s.blobs, s.blobBytes, s.tmpFiles], [1, 1, 100, 0]);
    assert.deepEqual(await verifyCache(dir), {
      blobsChecked: 1,
      corruptBlobs: [],
      brokenEntries: [],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("verifyCache() finds nothing wrong in an intact store", async () => {
  const dir = makeStore();
  try {
    const a = putBlob(dir, content("a"));
    const log = putBlob(dir, "build log\n");
    putEntry(dir, "one", [{ digest: a, size: 100 }], { log });
    const r = await verifyCache(dir);
    assert.deepEqual(r, { blobsChecked: 2, corruptBlobs: [], brokenEntries: [] });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("verifyCache() reports corrupt blobs and broken entries, and repair removes them", async () => {
  const dir = makeStore();
  try {
    const good = putBlob(dir, content("good"));
    const bad = putBlob(dir, content("bad"), { seal: true });
    const gone = putBlob(dir, content("gone"));
    const kGood = putEntry(dir, "good", [{ digest: good, size: 100 }]);
    const kBad = putEntry(dir, "uses-corrupt", [{ digest: bad, size: 100 }]);
    const kGone = putEntry(dir, "uses-missing", [{ digest: good, size: 100 }], { log: gone });
    const kSize = putEntry(dir, "wrong-size", [{ digest: good, size: 99 }]);
    // Corrupt one blob as a write through a hard link would; delete another.
    Deno.chmodSync(blobPath(dir, bad), 0o644);
    Deno.writeTextFileSync(blobPath(dir, bad), content("altered"));
    Deno.chmodSync(blobPath(dir, bad), 0o444);
    Deno.removeSync(blobPath(dir, gone));
    // An unparseable entry, and one stored under another key.
    const kJunk = sha("junk");
    Deno.mkdirSync(`${dir}/ac/${kJunk.slice(0, 2)}`, { recursive: true });
    Deno.writeTextFileSync(entryPath(dir, kJunk), "{not json");
    const kMoved = sha("moved");
    Deno.mkdirSync(`${dir}/ac/${kMoved.slice(0, 2)}`, { recursive: true });
    Deno.copyFileSync(entryPath(dir, kGood), entryPath(dir, kMoved));

    const r = await verifyCache(dir);
    assert.equal(r.blobsChecked, 2);
    assert.deepEqual(r.corruptBlobs, [bad]);
    assert.deepEqual(r.brokenEntries, [kBad, kGone, kSize, kJunk, kMoved].sort());
    assert.ok(exists(blobPath(dir, bad)), "without repair nothing is removed");
    assert.ok(exists(entryPath(dir, kJunk)));

    const repaired = await verifyCache(dir, { repair: true });
    assert.deepEqual(repaired, r);
    assert.ok(!exists(blobPath(dir, bad)));
    assert.ok(!exists(`${blobPath(dir, bad)}.seal`), "the seal goes with its blob");
    for (const k of [kBad, kGone, kSize, kJunk, kMoved]) assert.ok(!exists(entryPath(dir, k)));
    assert.ok(exists(entryPath(dir, kGood)));
    assert.ok(exists(blobPath(dir, good)));

    assert.deepEqual(await verifyCache(dir), {
      blobsChecked: 1,
      corruptBlobs: [],
      brokenEntries: [],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() removes least recently used entries first when over the limit", async () => {
  const dir = makeStore();
  try {
    const base = Date.now() - 10 * DAY;
    const a = putBlob(dir, content("a"));
    const aLog = putBlob(dir, content("a-log"));
    const b = putBlob(dir, content("b"));
    const c = putBlob(dir, content("c"));
    // Written in another order than used: LRU order comes from the mtime only.
    const kC = putEntry(dir, "c", [{ digest: c, size: 100 }], { usedAt: base + 3 * HOUR });
    const kA = putEntry(dir, "a", [{ digest: a, size: 100 }], { usedAt: base, log: aLog });
    const kB = putEntry(dir, "b", [{ digest: b, size: 100 }], { usedAt: base + 2 * HOUR });

    const r = await gcCache(dir, 250, { now: () => Date.now() + 2 * HOUR });
    assert.deepEqual(r, { entriesRemoved: 1, blobsRemoved: 2, bytesBefore: 400, bytesAfter: 200 });
    assert.ok(!exists(entryPath(dir, kA)));
    assert.ok(!exists(blobPath(dir, a)));
    assert.ok(!exists(blobPath(dir, aLog)), "the log blob of a removed entry goes too");
    for (const k of [kB, kC]) assert.ok(exists(entryPath(dir, k)));
    for (const d of [b, c]) assert.ok(exists(blobPath(dir, d)));

    const r2 = await gcCache(dir, 100, { now: () => Date.now() + 2 * HOUR });
    assert.deepEqual(r2, { entriesRemoved: 1, blobsRemoved: 1, bytesBefore: 200, bytesAfter: 100 });
    assert.ok(!exists(entryPath(dir, kB)), "the older of the two remaining entries");
    assert.ok(exists(entryPath(dir, kC)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() keeps blobs shared with an entry that remains", async () => {
  const dir = makeStore();
  try {
    const base = Date.now() - 10 * DAY;
    const shared = putBlob(dir, content("shared"), { seal: true });
    const a = putBlob(dir, content("a"), { seal: true });
    const b = putBlob(dir, content("b"));
    const kA = putEntry(dir, "a", [{ digest: shared, size: 100 }, { digest: a, size: 100 }], {
      usedAt: base,
    });
    const kB = putEntry(dir, "b", [{ digest: shared, size: 100 }, { digest: b, size: 100 }], {
      usedAt: base + HOUR,
    });

    const r = await gcCache(dir, 200, { now: () => Date.now() + 2 * HOUR });
    assert.deepEqual(r, { entriesRemoved: 1, blobsRemoved: 1, bytesBefore: 300, bytesAfter: 200 });
    assert.ok(!exists(entryPath(dir, kA)));
    assert.ok(exists(entryPath(dir, kB)));
    assert.ok(exists(blobPath(dir, shared)));
    assert.ok(exists(`${blobPath(dir, shared)}.seal`));
    assert.ok(!exists(blobPath(dir, a)));
    assert.ok(!exists(`${blobPath(dir, a)}.seal`), "the seal goes with its blob");
    assert.ok(exists(blobPath(dir, b)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() under the limit removes only old unreferenced blobs, seals and temporary files", async () => {
  const dir = makeStore();
  try {
    const used = putBlob(dir, content("used"));
    const orphan = putBlob(dir, content("orphan"));
    const missing = sha("never stored");
    const k = putEntry(dir, "one", [{ digest: used, size: 100 }, { digest: missing, size: 5 }], {
      usedAt: Date.now() - DAY,
    });
    const lonelySeal = `${dir}/cas/${missing.slice(0, 2)}/${missing}.seal`;
    Deno.mkdirSync(`${dir}/cas/${missing.slice(0, 2)}`, { recursive: true });
    Deno.writeTextFileSync(lonelySeal, "0:0:0");
    Deno.writeTextFileSync(`${dir}/tmp/1-leftover`, "partial");

    const r = await gcCache(dir, 10_000, { now: () => Date.now() + 2 * HOUR });
    assert.deepEqual(r, { entriesRemoved: 0, blobsRemoved: 1, bytesBefore: 200, bytesAfter: 100 });
    assert.ok(exists(entryPath(dir, k)));
    assert.ok(exists(blobPath(dir, used)));
    assert.ok(!exists(blobPath(dir, orphan)));
    assert.ok(!exists(lonelySeal), "a seal without its blob is removed");
    assert.ok(!exists(`${dir}/tmp/1-leftover`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() keeps unreferenced blobs and temporary files written within the grace period", async () => {
  const dir = makeStore();
  try {
    const old = putBlob(dir, content("old"));
    const writtenAt = Date.now();
    // Without statx, ctimes have whole seconds: leave more than one between the two blobs.
    await new Promise((r) => setTimeout(r, hasNanosecondStat() ? 60 : 1100));
    const fresh = putBlob(dir, content("fresh")); // a concurrent build's, entry not yet published
    Deno.writeTextFileSync(`${dir}/tmp/1-in-progress`, "partial");
    // An arbitrary (ancient) mtime does not make a just-written blob collectable.
    Deno.utimeSync(blobPath(dir, fresh), new Date(0), new Date(0));

    const unchanged = await gcCache(dir, 0);
    assert.deepEqual(unchanged, {
      entriesRemoved: 0,
      blobsRemoved: 0,
      bytesBefore: 200,
      bytesAfter: 200,
    });
    assert.ok(exists(`${dir}/tmp/1-in-progress`));

    const r = await gcCache(dir, 0, { graceMs: 1000, now: () => writtenAt + 1005 });
    assert.deepEqual(r, { entriesRemoved: 0, blobsRemoved: 1, bytesBefore: 200, bytesAfter: 100 });
    assert.ok(!exists(blobPath(dir, old)));
    assert.ok(exists(blobPath(dir, fresh)));
    assert.ok(exists(`${dir}/tmp/1-in-progress`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() keeps the blobs of an entry used within the grace period, even when removing it", async () => {
  const dir = makeStore();
  try {
    const now = Date.now() + 3 * HOUR;
    const a = putBlob(dir, content("a"));
    const b = putBlob(dir, content("b"));
    const kA = putEntry(dir, "a", [{ digest: a, size: 100 }], { usedAt: now - 5 * HOUR });
    const kB = putEntry(dir, "b", [{ digest: b, size: 100 }], { usedAt: now - 60_000 });

    const r = await gcCache(dir, 0, { now: () => now });
    assert.deepEqual(r, { entriesRemoved: 2, blobsRemoved: 1, bytesBefore: 200, bytesAfter: 100 });
    assert.ok(!exists(entryPath(dir, kA)) && !exists(entryPath(dir, kB)));
    assert.ok(!exists(blobPath(dir, a)));
    assert.ok(exists(blobPath(dir, b)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gcCache() removes old unparseable entries and handles a missing folder", async () => {
  const dir = makeStore();
  try {
    const k = sha("junk");
    Deno.mkdirSync(`${dir}/ac/${k.slice(0, 2)}`);
    Deno.writeTextFileSync(entryPath(dir, k), "{");
    const r = await gcCache(dir, 1000, { now: () => Date.now() + 2 * HOUR });
    assert.equal(r.entriesRemoved, 1);
    assert.ok(!exists(entryPath(dir, k)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.deepEqual(await gcCache("/nonexistent/kiln-cache-for-test", 0), {
    entriesRemoved: 0,
    blobsRemoved: 0,
    bytesBefore: 0,
    bytesAfter: 0,
  });
  await assert.rejects(() => gcCache("/nonexistent/kiln-cache-for-test", -1), RangeError);
});

Deno.test("parseSize() reads bytes with optional binary units", () => {
  const cases: [string, number | null][] = [
    ["2048", 2048],
    ["0", 0],
    ["2048B", 2048],
    ["500M", 500 * 2 ** 20],
    ["10G", 10 * 2 ** 30],
    ["10g", 10 * 2 ** 30],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["1TB", 2 ** 40],
    ["4kb", 4096],
    ["4KiB", 4096],
    [" 10 GB ", 10 * 2 ** 30],
    [".5K", 512],
    ["", null],
    ["G", null],
    ["ten", null],
    ["-1G", null],
    ["1.5.2G", null],
    ["10X", null],
    ["10GiBs", null],
    ["2048iB", null],
    ["1e3", null],
    ["99999999999T", null],
  ];
  for (const [text, want] of cases) assert.equal(parseSize(text), want, JSON.stringify(text));
});

Deno.test("cleanCache() empties the cache folder but keeps it", async () => {
  const dir = makeStore();
  try {
    const a = putBlob(dir, content("a"), { seal: true });
    putEntry(dir, "a", [{ digest: a, size: 100 }]);
    Deno.writeTextFileSync(`${dir}/tmp/1-x`, "partial");
    await cleanCache(dir);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.equal(cacheStats(dir).blobs, 0);
    await cleanCache(dir); // already empty
    await cleanCache(`${dir}/missing`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cleanCache() refuses a folder that is not a kiln cache", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kiln-store-admin-" });
  try {
    Deno.writeTextFileSync(`${dir}/notes.txt`, "precious");
    await assert.rejects(() => cleanCache(dir), /does not look like a kiln cache/);
    assert.ok(exists(`${dir}/notes.txt`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
