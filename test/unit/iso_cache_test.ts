import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import {
  type CachedIso,
  ensureIso,
  isoBlobPath,
  isoCacheDir,
  type IsoRequest,
  linkIsoInto,
} from "../../iso/iso_cache.ts";
import { type HttpMirror, startMirror } from "../rig/http_mirror.ts";
import {
  exists,
  fileDigest,
  makeTmp,
  randomBytes,
  removeTree,
  REPO,
  sha256,
} from "../rig/workspace.ts";

function hit(r: CachedIso | Failure): CachedIso {
  if ("reason" in r) assert.fail(`expected an ISO, got ${r.reason}: ${r.message}`);
  return r;
}

interface Rig {
  m: HttpMirror;
  /** The kiln cache folder. */
  cache: string;
  /** A scratch folder (a workspace). */
  ws: string;
  data: Uint8Array;
  req: IsoRequest;
}

/** A mirror serving `/d/demo.iso` (`size` random bytes), an empty cache and a workspace. */
async function withCache(size: number, body: (r: Rig) => Promise<void>): Promise<void> {
  const dir = await makeTmp("iso-cache-");
  const data = randomBytes(size);
  Deno.mkdirSync(`${dir}/www/d`, { recursive: true });
  Deno.writeFileSync(`${dir}/www/d/demo.iso`, data);
  Deno.mkdirSync(`${dir}/ws`);
  const m = await startMirror(`${dir}/www`);
  const req: IsoRequest = {
    name: "demo.iso",
    urls: [m.url("d/demo.iso")],
    sha256: sha256(data),
    cacheDir: `${dir}/cache`,
    fetch: { sleep: () => Promise.resolve() },
  };
  try {
    await body({ m, cache: `${dir}/cache`, ws: `${dir}/ws`, data, req });
  } finally {
    await m.close();
    await removeTree(dir);
  }
}

Deno.test("ensureIso() downloads once, then hits without the network", async () => {
  await withCache(500_000, async ({ m, cache, data, req }) => {
    const first = hit(await ensureIso(req));
    assert.equal(first.downloadedFrom, req.urls[0]);
    assert.equal(first.path, `${cache}/isos/sha256/${sha256(data)}`);
    assert.equal(fileDigest(first.path), sha256(data));
    assert.equal(Deno.statSync(first.path).mode! & 0o777, 0o444);
    assert.ok(exists(`${first.path}.seal`));
    assert.equal(m.requests.length, 1);
    const second = hit(await ensureIso(req));
    assert.deepEqual(second, { ...first, downloadedFrom: null });
    assert.equal(m.requests.length, 1, "the second call made no request");
    assert.deepEqual([...Deno.readDirSync(`${cache}/isos/tmp`)], [], "no download left behind");
  });
});

Deno.test("ensureIso() hits by name without a pinned digest when a URL matches", async () => {
  await withCache(100_000, async ({ m, data, req }) => {
    const unpinned = { ...req, sha256: undefined };
    assert.equal(hit(await ensureIso(unpinned)).sha256, sha256(data));
    assert.equal(hit(await ensureIso(unpinned)).downloadedFrom, null);
    assert.equal(m.requests.length, 1);
    // another source under the same name is another file, as far as the cache can tell
    const moved = { ...unpinned, urls: [m.url("d/demo.iso?v=2")] };
    assert.equal(hit(await ensureIso(moved)).downloadedFrom, moved.urls[0]);
    assert.equal(m.requests.length, 2);
  });
});

Deno.test("ensureIso() downloads once for two concurrent callers", async () => {
  await withCache(1_000_000, async ({ m, req }) => {
    m.fault("/d/demo.iso", { stallAfter: 200_000, stallMs: 30_000 }); // until released below
    const waits: string[] = [];
    let waiting!: () => void;
    const bothThere = new Promise<void>((r) => waiting = r);
    const onWait = (w: string) => {
      waits.push(w);
      waiting();
    };
    const both = Promise.all([ensureIso({ ...req, onWait }), ensureIso({ ...req, onWait })]);
    await bothThere; // the second caller waits; release the first once its download stalls
    const until = Date.now() + 10_000;
    while (m.releaseStalls() === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const [a, b] = await both;
    assert.equal(hit(a).path, hit(b).path);
    assert.equal(m.requests.length, 1);
    assert.equal([a, b].filter((r) => hit(r).downloadedFrom !== null).length, 1);
    assert.equal(waits.length, 1);
    assert.equal(waits[0], `Waiting for kiln process ${Deno.pid}, which is downloading "demo.iso"`);
  });
});

Deno.test("ensureIso() stops waiting for another caller's download when aborted", async () => {
  await withCache(1_000_000, async ({ m, req }) => {
    m.fault("/d/demo.iso", { stallAfter: 200_000, stallMs: 30_000 }); // until released below
    const first = ensureIso(req);
    while (m.requests.length === 0) await new Promise((r) => setTimeout(r, 5)); // it holds the lock
    const ac = new AbortController();
    const second = await ensureIso({ ...req, signal: ac.signal, onWait: () => ac.abort() });
    assert.equal("reason" in second && second.reason, "interrupted");
    assert.ok("reason" in second && second.message.includes('"demo.iso"'), JSON.stringify(second));
    while (m.releaseStalls() === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(hit(await first).downloadedFrom, req.urls[0]);
    assert.equal(m.requests.length, 1);
  });
});

Deno.test("ensureIso() in another process waits for this one's download instead of repeating it", async () => {
  await withCache(1_000_000, async ({ m, cache, ws, req }) => {
    m.fault("/d/demo.iso", { stallAfter: 200_000, stallMs: 30_000 }); // until released below
    const script = `${ws}/other.ts`;
    Deno.writeTextFileSync(
      script,
      `import { ensureIso } from "${REPO}/iso/iso_cache.ts";
      const r = await ensureIso({ name: "demo.iso", urls: ${JSON.stringify(req.urls)},
        sha256: "${req.sha256}", cacheDir: "${cache}", onWait: (w) => console.error(w) });
      console.log(JSON.stringify(r));`,
    );
    const mine = ensureIso(req);
    while (m.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    // release the stalled download only once the other process says it waits for it
    while (!stderr.includes("Waiting for kiln process")) {
      const { done, value } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const drained = (async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) stderr += r.value;
    })();
    assert.equal(m.releaseStalls(), 1);
    const out = (await new Response(child.stdout).text()).trim();
    await child.status;
    await drained;
    const theirs = JSON.parse(out || "{}");
    assert.equal(hit(await mine).downloadedFrom, req.urls[0]);
    assert.equal(theirs.downloadedFrom, null, stderr);
    assert.equal(theirs.sha256, req.sha256);
    assert.match(
      stderr,
      new RegExp(`Waiting for kiln process ${Deno.pid}, which is downloading`),
    );
    assert.equal(m.requests.length, 1);
  });
});

Deno.test("ensureIso() resumes an interrupted download on the next call", async () => {
  await withCache(2_000_000, async ({ m, data, req }) => {
    m.fault("/d/demo.iso", { stallAfter: 800_000 });
    const ac = new AbortController();
    const first = await ensureIso({
      ...req,
      signal: ac.signal,
      fetch: { onProgress: (p) => p.received >= 800_000 && ac.abort() },
    });
    assert.equal("reason" in first && first.reason, "interrupted");
    const second = hit(await ensureIso(req));
    assert.equal(fileDigest(second.path), sha256(data));
    assert.equal(m.requests[1].range, "bytes=800000-");
  });
});

Deno.test("ensureIso() trusts an unsealed blob only after rehashing it", async () => {
  await withCache(300_000, async ({ m, req }) => {
    const iso = hit(await ensureIso(req));
    Deno.removeSync(`${iso.path}.seal`);
    assert.equal(hit(await ensureIso(req)).downloadedFrom, null);
    assert.equal(m.requests.length, 1);
    assert.ok(exists(`${iso.path}.seal`), "the seal is written again");
  });
});

Deno.test("ensureIso() drops a blob altered through a link and downloads it again", async () => {
  await withCache(300_000, async ({ m, ws, data, req }) => {
    const iso = hit(await ensureIso(req));
    linkIsoInto(iso, `${ws}/demo.iso`);
    // a careless task writes through its hard link (root ignores the read-only mode)
    using f = Deno.openSync(`${ws}/demo.iso`, { write: true });
    f.writeSync(new Uint8Array(16));
    const again = hit(await ensureIso(req));
    assert.equal(again.downloadedFrom, req.urls[0]);
    assert.equal(fileDigest(again.path), sha256(data));
    assert.equal(m.requests.length, 2);
  });
});

Deno.test("ensureIso() fails with iso-checksum-mismatch and caches nothing for a wrong pin", async () => {
  await withCache(100_000, async ({ cache, req }) => {
    const r = await ensureIso({ ...req, sha256: sha256("not the ISO") });
    assert.equal("reason" in r && r.reason, "iso-checksum-mismatch");
    assert.deepEqual([...Deno.readDirSync(`${cache}/isos/sha256`)], []);
    assert.deepEqual([...Deno.readDirSync(`${cache}/isos/tmp`)], []);
  });
});

Deno.test("ensureIso() rejects a pinned size that contradicts the pinned digest", async () => {
  await withCache(100_000, async ({ m, req }) => {
    hit(await ensureIso(req));
    const r = await ensureIso({ ...req, size: 99 });
    assert.equal("reason" in r && r.reason, "iso-checksum-mismatch");
    assert.ok("reason" in r && r.message.includes("Pinned size 99"), JSON.stringify(r));
    assert.equal(m.requests.length, 1);
    assert.ok(exists(isoBlobPath(`${req.cacheDir}/isos`, req.sha256!)), "the good blob stays");
  });
});

Deno.test("ensureIso() returns iso-fetch-failed when no URL serves the ISO", async () => {
  await withCache(1000, async ({ m, req }) => {
    const r = await ensureIso({ ...req, urls: [m.url("nope.iso")] });
    assert.equal("reason" in r && r.reason, "iso-fetch-failed");
  });
});

Deno.test("linkIsoInto() hard-links the blob, replacing what was at the destination", async () => {
  await withCache(200_000, async ({ ws, data, req }) => {
    const iso = hit(await ensureIso(req));
    Deno.writeTextFileSync(`${ws}/demo.iso`, "old");
    assert.equal(linkIsoInto(iso, `${ws}/out/../demo.iso`), "link");
    assert.equal(Deno.statSync(`${ws}/demo.iso`).ino, Deno.statSync(iso.path).ino);
    assert.equal(linkIsoInto(iso.path, `${ws}/deep/dir/demo.iso`), "link");
    assert.equal(fileDigest(`${ws}/deep/dir/demo.iso`), sha256(data));
    assert.equal(fileDigest(iso.path), sha256(data), "the blob was not written through");
    const cwd = Deno.cwd();
    try {
      Deno.chdir(ws);
      assert.equal(linkIsoInto(iso, "here.iso"), "link"); // a bare relative name
    } finally {
      Deno.chdir(cwd);
    }
    assert.equal(fileDigest(`${ws}/here.iso`), sha256(data));
    const names = [...Deno.readDirSync(ws)].map((e) => e.name).sort();
    assert.deepEqual(names, ["deep", "demo.iso", "here.iso", "out"], "no stray folder");
  });
});

Deno.test("linkIsoInto() copies when the destination is on another filesystem", async () => {
  const shm = "/dev/shm";
  if (!exists(shm) || Deno.statSync(shm).dev === Deno.statSync(REPO).dev) return;
  await withCache(200_000, async ({ data, req }) => {
    const iso = hit(await ensureIso(req));
    const dest = `${shm}/kiln-iso-test-${Deno.pid}/demo.iso`;
    try {
      assert.equal(linkIsoInto(iso, dest), "copy");
      assert.equal(fileDigest(dest), sha256(data));
      assert.notEqual(Deno.statSync(dest).ino, Deno.statSync(iso.path).ino);
    } finally {
      await removeTree(`${shm}/kiln-iso-test-${Deno.pid}`);
    }
  });
});

Deno.test("isoCacheDir() lives in the kiln cache folder, KILN_CACHE_DIR first", () => {
  const old = Deno.env.get("KILN_CACHE_DIR");
  try {
    Deno.env.set("KILN_CACHE_DIR", "/srv/kiln-cache");
    assert.equal(isoCacheDir(), "/srv/kiln-cache/isos");
    assert.equal(isoCacheDir("/elsewhere"), "/elsewhere/isos");
  } finally {
    if (old === undefined) Deno.env.delete("KILN_CACHE_DIR");
    else Deno.env.set("KILN_CACHE_DIR", old);
  }
});
