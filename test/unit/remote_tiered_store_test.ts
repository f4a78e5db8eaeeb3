import assert from "node:assert/strict";
import { encodeInline } from "../../engine/inline.ts";
import { type ActionEntry, LocalStore } from "../../engine/store.ts";
import type { CacheAccess } from "../../remote/config.ts";
import { TieredStore } from "../../remote/tiered_store.ts";
import { type CacheServer, startCacheServer } from "../rig/cache_server.ts";
import { makeTmp, randomBytes, removeTree, sha256, waitFor } from "../rig/workspace.ts";

const SECRET = "tiered-store-test-secret-0123";

interface Fixture {
  dir: string;
  entry: ActionEntry;
  big: Uint8Array;
  log: string;
  /** Stores the entry's blobs and entry as the executor does after a run. */
  store(s: TieredStore): Promise<void>;
}

/** A workspace with one task result: a 2 MiB blob output, an inline output and a log. */
async function fixture(): Promise<Fixture> {
  const dir = await makeTmp("tiered-");
  const big = randomBytes(2 * 1024 * 1024);
  const small = new TextEncoder().encode("small\n");
  const log = "task output\n";
  Deno.mkdirSync(`${dir}/ws/out`, { recursive: true });
  Deno.writeFileSync(`${dir}/ws/out/big.bin`, big);
  Deno.writeTextFileSync(`${dir}/ws/task.log`, log);
  const entry: ActionEntry = {
    v: 1,
    key: sha256(`key ${dir}`),
    task: "t",
    outputs: {
      files: [
        { path: "out/big.bin", digest: sha256(big), size: big.length, mode: 0o644 },
        { path: "out/small.txt", digest: sha256(small), size: small.length, mode: 0o644 },
      ],
      dirs: ["out"],
      symlinks: [],
    },
    log: sha256(log),
    inline: { "out/small.txt": encodeInline(small) },
    durationMs: 5,
    createdAt: new Date().toISOString(),
  };
  return {
    dir,
    entry,
    big,
    log,
    async store(s) {
      await s.putBlob(`${dir}/ws/out/big.bin`, sha256(big), big.length);
      await s.putBlob(`${dir}/ws/task.log`, sha256(log), log.length);
      await s.putEntry(entry);
    },
  };
}

/** The server's requests after the first `from`, once nginx has logged at least `n` of them. */
async function requestsAfter(server: CacheServer, from: number, n: number): Promise<string[]> {
  await waitFor(() => server.requests().length >= from + n, 2000);
  await new Promise((r) => setTimeout(r, 50)); // and any stragglers
  return server.requests().slice(from);
}

function tiered(
  server: CacheServer | string,
  cacheDir: string,
  o: { local?: CacheAccess; remote?: "r" | "rw"; secret?: string } = {},
) {
  const warnings: string[] = [];
  const store = new TieredStore({
    local: new LocalStore(cacheDir),
    localAccess: o.local ?? "rw",
    remote: { url: typeof server === "string" ? server : server.url, retries: 1, backoffMs: 5 },
    remoteAccess: o.remote ?? "rw",
    secret: o.secret ?? SECRET,
    warn: (m) => warnings.push(m),
  });
  return { store, warnings };
}

Deno.test("TieredStore.flush() uploads blobs before the action entry, and a second store with an empty local cache restores from it", async () => {
  await using server = await startCacheServer();
  const f = await fixture();
  try {
    const a = tiered(server, `${f.dir}/cache-a`);
    await f.store(a.store);
    await a.store.flush();
    assert.deepEqual(a.warnings, []);
    assert.equal(a.store.stats.uploadedEntries, 1);
    const puts = (await requestsAfter(server, 0, 7)).filter((l) => l.startsWith("PUT"));
    assert.equal(puts.length, 4, puts.join("\n")); // big blob, log, entry blob, action entry
    assert.match(puts.at(-1)!, new RegExp(`^PUT /cache/ac/${f.entry.key} 20[14]`));
    assert.ok(puts.slice(0, 3).every((l) => l.startsWith("PUT /cache/cas/")));

    const b = tiered(server, `${f.dir}/cache-b`);
    const got = await b.store.getEntry(f.entry.key);
    assert.deepEqual(got, f.entry);
    const dest = `${f.dir}/ws-b/out/big.bin`;
    assert.equal(await b.store.restoreBlob(sha256(f.big), f.big.length, 0o644, dest), null);
    assert.deepEqual(Deno.readFileSync(dest), f.big);
    assert.equal(await b.store.readBlobText(f.entry.log!), f.log);
    await b.store.flush();
    assert.deepEqual(b.warnings, []);
    const local = new LocalStore(`${f.dir}/cache-b`);
    assert.deepEqual(await local.getEntry(f.entry.key), f.entry, "the entry was kept locally");
    assert.ok(Deno.statSync(local.blobPath(sha256(f.big))).isFile, "so was the blob");
    assert.equal(b.store.stats.hits, 1);
  } finally {
    await removeTree(f.dir);
  }
});

Deno.test("TieredStore skips uploading blobs the server has (HEAD) and remote:r never uploads", async () => {
  await using server = await startCacheServer();
  const f = await fixture();
  try {
    const a = tiered(server, `${f.dir}/cache-a`);
    await f.store(a.store);
    await a.store.flush();
    const before = (await requestsAfter(server, 0, 7)).length;
    const again = tiered(server, `${f.dir}/cache-a2`);
    await f.store(again.store);
    await again.store.flush();
    const puts = (await requestsAfter(server, before, 4)).filter((l) => l.startsWith("PUT"));
    assert.equal(puts.length, 1, `only the action entry: ${puts.join("\n")}`);
    assert.equal(again.store.stats.existingBlobs, 3);

    const reader = tiered(server, `${f.dir}/cache-r`, { remote: "r" });
    const n = (await requestsAfter(server, before, 4)).length + before;
    await f.store(reader.store);
    await reader.store.flush();
    assert.deepEqual(await requestsAfter(server, n, 0), []);
  } finally {
    await removeTree(f.dir);
  }
});

Deno.test("TieredStore.getEntry() ignores and reports an action entry altered on the server", async () => {
  await using server = await startCacheServer();
  const f = await fixture();
  try {
    const a = tiered(server, `${f.dir}/cache-a`);
    await f.store(a.store);
    await a.store.flush();
    const path = server.path("ac", f.entry.key);
    const ar = JSON.parse(Deno.readTextFileSync(path));
    ar.executionMetadata.worker = `kiln-hmac-sha256:${"0".repeat(64)}`;
    Deno.writeTextFileSync(path, JSON.stringify(ar));
    const b = tiered(server, `${f.dir}/cache-b`);
    assert.equal(await b.store.getEntry(f.entry.key), null);
    assert.equal(b.warnings.length, 1);
    assert.match(b.warnings[0], new RegExp(`"${f.entry.key.slice(0, 12)}…".*does not verify`));
    assert.equal(b.store.remoteActive, true, "tampering is not a remote error");

    const wrongKey = tiered(server, `${f.dir}/cache-c`, { secret: "another-secret-0123456789" });
    Deno.writeTextFileSync(path, JSON.stringify({ ...ar, executionMetadata: {} }));
    assert.equal(await wrongKey.store.getEntry(f.entry.key), null);
    assert.match(wrongKey.warnings[0], /not a signed kiln entry/);
  } finally {
    await removeTree(f.dir);
  }
});

Deno.test("TieredStore.restoreBlob() discards a blob altered on the server and reports its digest", async () => {
  await using server = await startCacheServer();
  const f = await fixture();
  try {
    const a = tiered(server, `${f.dir}/cache-a`);
    await f.store(a.store);
    await a.store.flush();
    const digest = sha256(f.big);
    const bad = f.big.slice();
    bad[1000] ^= 0xff;
    Deno.writeFileSync(server.path("cas", digest), bad);
    for (const local of ["rw", "off"] as const) {
      const b = tiered(server, `${f.dir}/cache-${local}`, { local });
      assert.ok(await b.store.getEntry(f.entry.key), "the entry itself is fine");
      const dest = `${f.dir}/ws-${local}/out/big.bin`;
      assert.equal(await b.store.restoreBlob(digest, f.big.length, 0o644, dest), "blob-corrupt");
      assert.throws(() => Deno.statSync(dest), Deno.errors.NotFound);
      assert.equal(b.warnings.length, 1, b.warnings.join("\n"));
      assert.match(
        b.warnings[0],
        new RegExp(`"${digest.slice(0, 12)}…" does not match its digest`),
      );
      await b.store.flush();
      assert.equal(
        await new LocalStore(`${f.dir}/cache-${local}`).getEntry(f.entry.key),
        null,
        "an entry whose restore failed is not kept",
      );
    }
  } finally {
    await removeTree(f.dir);
  }
});

Deno.test("TieredStore with local:off restores straight from the remote to the destination", async () => {
  await using server = await startCacheServer();
  const f = await fixture();
  try {
    const a = tiered(server, `${f.dir}/cache-a`);
    await f.store(a.store);
    await a.store.flush();
    const b = tiered(server, `${f.dir}/cache-b`, { local: "off" });
    assert.deepEqual(await b.store.getEntry(f.entry.key), f.entry);
    const dest = `${f.dir}/ws-b/out/big.bin`;
    assert.equal(await b.store.restoreBlob(sha256(f.big), f.big.length, 0o640, dest), null);
    assert.deepEqual(Deno.readFileSync(dest), f.big);
    assert.equal(Deno.statSync(dest).mode! & 0o777, 0o640);
    await b.store.flush();
    assert.throws(() => Deno.statSync(`${f.dir}/cache-b/ac`), Deno.errors.NotFound);
  } finally {
    await removeTree(f.dir);
  }
});

Deno.test("TieredStore warns once when the server is down, then works locally without it", async () => {
  const server = await startCacheServer();
  const f = await fixture();
  try {
    const url = server.url;
    await server[Symbol.asyncDispose]();
    const a = tiered(url, `${f.dir}/cache-a`);
    assert.equal(await a.store.getEntry(f.entry.key), null);
    assert.equal(await a.store.getEntry(sha256("another")), null);
    await f.store(a.store);
    await a.store.flush();
    assert.equal(a.warnings.length, 1, a.warnings.join("\n"));
    assert.match(
      a.warnings[0],
      /^Remote cache "http:\/\/127\.0\.0\.1:\d+\/cache\/" failed GET \/ac\//,
    );
    assert.match(a.warnings[0], /building without the remote cache from here on$/);
    assert.equal(a.store.remoteActive, false);
    assert.deepEqual(await a.store.getEntry(f.entry.key), f.entry, "the local tier still works");
  } finally {
    await removeTree(f.dir);
  }
});
