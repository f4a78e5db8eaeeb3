import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DigestCache } from "../../engine/digest_cache.ts";
import { statFile } from "../../engine/stat.ts";

function sha(data: string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** One minute before now: old enough that no entry for it is racy against `NOW_NS`. */
const PAST = new Date(Date.now() - 60_000);
const NOW_NS = () => BigInt(Date.now()) * 1_000_000n;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "kiln_digest_" }));
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `text` to `abs` and sets its mtime one minute in the past. */
function writeOld(abs: string, text: string): void {
  Deno.writeTextFileSync(abs, text);
  Deno.utimeSync(abs, PAST, PAST);
}

/**
 * Hashes `abs` in one cache and returns a second cache loaded from what the first saved, as the
 * next build would (a new session, saved now so the file is not racy).
 */
async function nextBuild(rel: string, abs: string): Promise<DigestCache> {
  const first = new DigestCache();
  assert.equal(await first.digest(rel, abs), sha(Deno.readTextFileSync(abs)));
  assert.equal(first.hashedCount, 1);
  return new DigestCache(structuredClone(first.toJSON()), NOW_NS());
}

Deno.test("DigestCache.digest() does not rehash a file when its stat is unchanged", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    writeOld(abs, "alpha");
    const cache = await nextBuild("a.txt", abs);
    assert.equal(await cache.digest("a.txt", abs), sha("alpha"));
    assert.equal(await cache.digest("a.txt", abs), sha("alpha"));
    assert.equal(cache.hashedCount, 0);
    assert.equal(cache.dirty, false, "a trusted lookup records nothing new");
  });
});

Deno.test("DigestCache.digest() trusts the recorded digest, not the content, when the stat matches", async () => {
  await withDir(async (dir) => {
    // Proves the previous test measures the cache, not a hash that happens to agree: a recorded
    // digest is returned as-is when the signature matches and the entry is not racy.
    const abs = `${dir}/a.txt`;
    writeOld(abs, "alpha");
    const st = statFile(abs)!;
    const cache = new DigestCache({ "a.txt": `${st.sig}|recorded` }, NOW_NS());
    assert.equal(await cache.digest("a.txt", abs), "recorded");
    assert.equal(cache.hashedCount, 0);
  });
});

Deno.test("DigestCache.digest() rehashes a file when its content changed", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    writeOld(abs, "alpha");
    const cache = await nextBuild("a.txt", abs);
    writeOld(abs, "beta, longer");
    assert.equal(await cache.digest("a.txt", abs), sha("beta, longer"));
    assert.equal(cache.hashedCount, 1);
    assert.equal(cache.dirty, true);
    // And the new digest is then trusted.
    assert.equal(await cache.digest("a.txt", abs), sha("beta, longer"));
    assert.equal(cache.hashedCount, 1);
  });
});

Deno.test("DigestCache.digest() rehashes a racy entry even when its signature matches", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    Deno.writeTextFileSync(abs, "alpha");
    const st = statFile(abs)!;
    // The state was saved in the same tick the file was last written (mtime >= racyFromNs), so
    // an edit in that tick could have kept the signature: the stale digest must not be served.
    const racy = new DigestCache({ "a.txt": `${st.sig}|stale` }, st.mtimeNs);
    assert.equal(await racy.digest("a.txt", abs), sha("alpha"));
    assert.equal(racy.hashedCount, 1);
    const later = new DigestCache({ "a.txt": `${st.sig}|stale` }, st.mtimeNs - 1n);
    assert.equal(await later.digest("a.txt", abs), sha("alpha"), "mtime after the save is racy");
    const saved = new DigestCache({ "a.txt": `${st.sig}|stale` }, st.mtimeNs + 1n);
    assert.equal(await saved.digest("a.txt", abs), "stale", "saved after the write: trusted");
    assert.equal(saved.hashedCount, 0);
  });
});

Deno.test("DigestCache.digest() trusts a racy entry it hashed itself in this session", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    Deno.writeTextFileSync(abs, "alpha");
    const cache = new DigestCache({}, 0n); // everything is racy
    assert.equal(await cache.digest("a.txt", abs), sha("alpha"));
    assert.equal(await cache.digest("a.txt", abs), sha("alpha"));
    assert.equal(cache.hashedCount, 1);
  });
});

Deno.test("DigestCache.digest() detects a same-size rewrite with a restored mtime by ctime and inode", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    writeOld(abs, "aaaa");
    const before = statFile(abs)!;
    const cache = await nextBuild("a.txt", abs);
    // Let the coarse kernel clock move on, so the rewrite gets a new ctime.
    await new Promise((r) => setTimeout(r, 30));

    // In place: same size, same inode, mtime put back; only ctime moves.
    Deno.writeTextFileSync(abs, "bbbb");
    Deno.utimeSync(abs, PAST, PAST);
    const inPlace = statFile(abs)!;
    assert.equal(inPlace.size, before.size);
    assert.equal(inPlace.mtimeNs, before.mtimeNs, "mtime restored");
    assert.equal(inPlace.ino, before.ino);
    assert.notEqual(inPlace.ctimeNs, before.ctimeNs);
    assert.equal(await cache.digest("a.txt", abs), sha("bbbb"));
    assert.equal(cache.hashedCount, 1);

    // Replaced by rename: a new inode, mtime put back.
    await new Promise((r) => setTimeout(r, 30));
    const cache2 = new DigestCache(structuredClone(cache.toJSON()), NOW_NS());
    writeOld(`${dir}/new.tmp`, "cccc");
    Deno.renameSync(`${dir}/new.tmp`, abs);
    const renamed = statFile(abs)!;
    assert.equal(renamed.mtimeNs, before.mtimeNs);
    assert.notEqual(renamed.ino, inPlace.ino);
    assert.equal(await cache2.digest("a.txt", abs), sha("cccc"));
    assert.equal(cache2.hashedCount, 1);
  });
});

Deno.test("DigestCache.digest() returns null when the file does not exist", async () => {
  await withDir(async (dir) => {
    const cache = new DigestCache();
    assert.equal(await cache.digest("nope.txt", `${dir}/nope.txt`), null);
    assert.equal(cache.hashedCount, 0);
    // A file that was recorded and then deleted is also null, not its old digest.
    const abs = `${dir}/gone.txt`;
    writeOld(abs, "gone");
    const next = await nextBuild("gone.txt", abs);
    Deno.removeSync(abs);
    assert.equal(await next.digest("gone.txt", abs), null);
  });
});

Deno.test("DigestCache.forget() drops an entry so the file is hashed again", async () => {
  await withDir(async (dir) => {
    const abs = `${dir}/a.txt`;
    writeOld(abs, "alpha");
    const cache = await nextBuild("a.txt", abs);
    cache.forget("a.txt");
    assert.equal(cache.dirty, true);
    assert.equal("a.txt" in cache.toJSON(), false);
    assert.equal(await cache.digest("a.txt", abs), sha("alpha"));
    assert.equal(cache.hashedCount, 1);
  });
});
