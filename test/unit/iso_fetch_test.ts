import assert from "node:assert/strict";
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  type FetchedFile,
  fetchFile,
  type FetchOptions,
  retryAfterMs,
} from "../../iso/fetch.ts";
import {
  type FetchProgress,
  formatBytes,
  formatEta,
  formatProgressLine,
  formatRate,
  progressReporter,
  RateMeter,
} from "../../iso/progress.ts";
import type { Failure } from "../../engine/failure.ts";
import { type HttpMirror, startMirror } from "../rig/http_mirror.ts";
import { exists, fileDigest, makeTmp, randomBytes, removeTree, sha256 } from "../rig/workspace.ts";

/** A mirror serving `files` (URL path -> bytes) from a fresh folder; `out` is a scratch folder. */
async function withMirror(
  files: Record<string, Uint8Array>,
  body: (m: HttpMirror, out: string, www: string) => Promise<void>,
): Promise<void> {
  const dir = await makeTmp("iso-fetch-");
  const www = `${dir}/www`;
  for (const [p, data] of Object.entries(files)) {
    Deno.mkdirSync(`${www}/${p.slice(0, p.lastIndexOf("/"))}`, { recursive: true });
    Deno.writeFileSync(`${www}/${p}`, data);
  }
  Deno.mkdirSync(`${dir}/out`);
  const m = await startMirror(www);
  try {
    await body(m, `${dir}/out`, www);
  } finally {
    await m.close();
    await removeTree(dir);
  }
}

/** Options for a quick test: no real waiting, every delay recorded. */
function quick(urls: string[], dest: string, extra: Partial<FetchOptions> = {}) {
  const delays: number[] = [];
  const log: string[] = [];
  const opts: FetchOptions = {
    urls,
    dest,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    log: (l) => log.push(l),
    ...extra,
  };
  return { opts, delays, log };
}

function ok(r: FetchedFile | Failure): FetchedFile {
  if ("reason" in r) assert.fail(`expected a download, got ${r.reason}: ${r.message}`);
  return r;
}

function failed(r: FetchedFile | Failure): Failure {
  if (!("reason" in r)) assert.fail(`expected a failure, got ${JSON.stringify(r)}`);
  return r;
}

for (const [mode, offThreadBytes] of [["inline", 1 << 30], ["worker", 1]] as const) {
  Deno.test(`fetchFile() downloads a file whole with its digest and progress (${mode})`, async () => {
    const data = randomBytes(3_000_000);
    await withMirror({ "a.iso": data }, async (m, out) => {
      const seen: FetchProgress[] = [];
      const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, {
        offThreadBytes,
        onProgress: (p) => seen.push(p),
      });
      const r = ok(await fetchFile(opts));
      assert.deepEqual(r, {
        path: `${out}/a.iso`,
        sha256: sha256(data),
        size: data.length,
        url: m.url("a.iso"),
      });
      assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
      assert.equal(exists(`${out}/a.iso.partial`), false);
      assert.equal(exists(`${out}/a.iso.partial.json`), false);
      assert.ok(seen.length > 1);
      assert.deepEqual(seen.at(-1), {
        url: m.url("a.iso"),
        received: data.length,
        total: data.length,
      });
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].received > seen[i - 1].received);
    });
  });

  Deno.test(`fetchFile() resumes with a Range request after a cut connection (${mode})`, async () => {
    // 12 MB crosses the worker's 8 MiB batches; the cut falls inside the second one.
    const data = randomBytes(12_000_000);
    await withMirror({ "a.iso": data }, async (m, out) => {
      m.fault("/a.iso", { cutAfter: 9_000_001 });
      const { opts, delays } = quick([m.url("a.iso")], `${out}/a.iso`, { offThreadBytes });
      const r = ok(await fetchFile(opts));
      assert.equal(r.sha256, sha256(data));
      assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
      const reqs = m.requestsFor("/a.iso");
      assert.equal(reqs.length, 2);
      assert.equal(reqs[1].range, "bytes=9000001-");
      assert.ok(
        reqs[1].ifRange?.startsWith('"'),
        `If-Range should carry the ETag: ${reqs[1].ifRange}`,
      );
      assert.equal(reqs[1].status, 206);
      assert.equal(reqs[1].bytesSent, data.length - 9_000_001); // nothing received twice
      assert.equal(delays.length, 1);
    });
  });
}

for (const [mode, offThreadBytes] of [["inline", 1 << 30], ["worker", 1]] as const) {
  Deno.test(`fetchFile() stops with iso-fetch-failed when the disk is full (${mode})`, async () => {
    const data = randomBytes(20_000_000);
    await withMirror({ "a.iso": data }, async (m, out) => {
      Deno.symlinkSync("/dev/full", `${out}/a.iso.partial`); // every write fails with ENOSPC
      const { opts, delays } = quick([m.url("a.iso")], `${out}/a.iso`, { offThreadBytes });
      const f = failed(await fetchFile(opts));
      assert.equal(f.reason, "iso-fetch-failed");
      assert.match(f.message, /^Could not write ".*a\.iso\.partial": No space left on device/);
      assert.equal(m.requests.length, 1, "a full disk is not the mirror's fault: no retry");
      assert.equal(delays.length, 0);
    });
  });
}

Deno.test("fetchFile() restarts from zero when the server ignores Range", async () => {
  const data = randomBytes(2_000_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { cutAfter: 700_000 }, { ignoreRange: true });
    const { opts, log } = quick([m.url("a.iso")], `${out}/a.iso`);
    const r = ok(await fetchFile(opts));
    assert.equal(r.sha256, sha256(data));
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
    const reqs = m.requestsFor("/a.iso");
    assert.equal(reqs[1].range, "bytes=700000-");
    assert.equal(reqs[1].status, 200);
    assert.equal(reqs[1].bytesSent, data.length);
    assert.ok(log.some((l) => l.includes("restarting from zero")), log.join("\n"));
  });
});

Deno.test("fetchFile() restarts from zero when the file changed on the server (If-Range)", async () => {
  const before = randomBytes(1_500_000);
  const after = randomBytes(1_600_000);
  await withMirror({ "a.iso": before }, async (m, out, www) => {
    m.fault("/a.iso", { cutAfter: 1_000_000 });
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, {
      // replaced between the attempts, by rename as mirrors do (new inode, new ETag)
      sleep: () => {
        Deno.writeFileSync(`${www}/a.iso.new`, after);
        Deno.renameSync(`${www}/a.iso.new`, `${www}/a.iso`);
        return Promise.resolve();
      },
    });
    const r = ok(await fetchFile(opts));
    assert.equal(r.sha256, sha256(after));
    assert.equal(r.size, after.length);
    assert.equal(fileDigest(`${out}/a.iso`), sha256(after));
    const reqs = m.requestsFor("/a.iso");
    assert.equal(reqs.length, 2);
    assert.equal(reqs[1].range, "bytes=1000000-");
    assert.equal(reqs[1].status, 200, "a stale If-Range gets the whole new file");
  });
});

Deno.test("fetchFile() keeps going on a link that drops often but makes progress", async () => {
  const data = randomBytes(1_000_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    // five cuts in a row with a single retry allowed: each attempt advances, so none counts twice
    for (let i = 1; i <= 5; i++) m.fault("/a.iso", { cutAfter: 150_000 });
    const { opts, delays } = quick([m.url("a.iso")], `${out}/a.iso`, {
      retries: 1,
      random: () => 0,
    });
    ok(await fetchFile(opts));
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
    const ranges = m.requestsFor("/a.iso").map((q) => q.range);
    assert.deepEqual(ranges, [null, ...[1, 2, 3, 4, 5].map((i) => `bytes=${i * 150_000}-`)]);
    assert.deepEqual(delays, [500, 500, 500, 500, 500], "the backoff restarts after progress");
  });
});

Deno.test("fetchFile() keeps a body gzipped against Accept-Encoding as sent, like curl -o", async () => {
  const data = new TextEncoder().encode("kiln ".repeat(200_000)); // compresses well
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { gzip: true });
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`);
    const r = ok(await fetchFile(opts));
    assert.equal(r.size, m.requests[0].bytesSent);
    assert.ok(r.size < data.length / 10);
    const decoded = new Response(
      (await Deno.open(`${out}/a.iso`)).readable.pipeThrough(new DecompressionStream("gzip")),
    );
    assert.equal(sha256(new Uint8Array(await decoded.arrayBuffer())), sha256(data));
  });
});

Deno.test("fetchFile() moves to the next mirror after a 404 without retrying", async () => {
  const data = randomBytes(100_000);
  await withMirror({ "b/a.iso": data }, async (m, out) => {
    const { opts, delays } = quick([m.url("a/a.iso"), m.url("b/a.iso")], `${out}/a.iso`);
    const r = ok(await fetchFile(opts));
    assert.equal(r.url, m.url("b/a.iso"));
    assert.equal(m.requestsFor("/a/a.iso").length, 1);
    assert.equal(delays.length, 0);
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
  });
});

Deno.test("fetchFile() moves to the next mirror after repeated 500s", async () => {
  const data = randomBytes(100_000);
  await withMirror({ "a/a.iso": data, "b/a.iso": data }, async (m, out) => {
    m.fault("/a/a.iso", { status: 500, times: 100 });
    const { opts, delays } = quick([m.url("a/a.iso"), m.url("b/a.iso")], `${out}/a.iso`, {
      retries: 2,
    });
    const r = ok(await fetchFile(opts));
    assert.equal(r.url, m.url("b/a.iso"));
    assert.equal(m.requestsFor("/a/a.iso").length, 3, "one attempt and two retries");
    assert.equal(m.requestsFor("/b/a.iso").length, 1);
    assert.equal(delays.length, 2);
  });
});

Deno.test("fetchFile() retries 5xx with growing backoff delays, then succeeds", async () => {
  const data = randomBytes(50_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { status: 503, times: 2 }, { status: 502 }, { status: 500 });
    const { opts, delays, log } = quick([m.url("a.iso")], `${out}/a.iso`, {
      retries: 4,
      backoff: { baseMs: 100, maxMs: 10_000 },
      random: () => 0.5,
    });
    ok(await fetchFile(opts));
    assert.deepEqual(delays, [75, 150, 300, 600]);
    assert.equal(m.requestsFor("/a.iso").length, 5);
    assert.ok(log[0].includes("HTTP 503") && log[0].includes("retry 1 of 4"), log[0]);
  });
});

Deno.test("fetchFile() waits at least as long as Retry-After says", async () => {
  const data = randomBytes(10_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { status: 429, retryAfter: 7 });
    const { opts, delays } = quick([m.url("a.iso")], `${out}/a.iso`, { random: () => 0 });
    ok(await fetchFile(opts));
    assert.deepEqual(delays, [7000]);
  });
});

Deno.test("fetchFile() gives up with iso-fetch-failed naming every URL tried", async () => {
  await withMirror({}, async (m, out) => {
    m.fault("/b.iso", { status: 500, times: 10 });
    const urls = ["ftp://example.invalid/a.iso", m.url("a.iso"), m.url("b.iso")];
    const { opts, delays } = quick(urls, `${out}/a.iso`, { retries: 1 });
    const f = failed(await fetchFile(opts));
    assert.equal(f.reason, "iso-fetch-failed");
    assert.ok(
      f.message.startsWith(
        `Could not download "a.iso" from "ftp://example.invalid/a.iso" (not an http or https URL), `,
      ),
      f.message,
    );
    assert.deepEqual(delays.length, 1, "only the 500 was retried");
    assert.ok(f.message.includes(`"${m.url("a.iso")}" (not found, HTTP 404)`), f.message);
    assert.ok(f.message.includes(`"${m.url("b.iso")}" (HTTP 500; 2 attempts)`), f.message);
    assert.ok(!f.message.includes("\n") && !f.message.endsWith("."));
    assert.equal(exists(`${out}/a.iso`), false);
  });
});

Deno.test("fetchFile() drops a stalled connection after the idle timeout and resumes", async () => {
  const data = randomBytes(1_000_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { stallAfter: 400_000 });
    const { opts, log } = quick([m.url("a.iso")], `${out}/a.iso`, { idleTimeoutMs: 150 });
    const t = performance.now();
    ok(await fetchFile(opts));
    assert.ok(performance.now() - t < 5000);
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
    assert.equal(m.requestsFor("/a.iso")[1].range, "bytes=400000-");
    assert.ok(log.some((l) => l.includes("no data for 150 ms")), log.join("\n"));
  });
});

Deno.test("fetchFile() retries when the server sends no headers in time", async () => {
  const data = randomBytes(10_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { headerDelayMs: 3000 });
    const { opts, log } = quick([m.url("a.iso")], `${out}/a.iso`, { connectTimeoutMs: 100 });
    ok(await fetchFile(opts));
    assert.ok(log[0].includes("no response within 100 ms"), log[0]);
  });
});

Deno.test("fetchFile() keeps a resumable partial when aborted, and a later call resumes it", async () => {
  const data = randomBytes(3_000_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    m.fault("/a.iso", { stallAfter: 1_200_000 });
    const ac = new AbortController();
    const first = failed(
      await fetchFile({
        urls: [m.url("a.iso")],
        dest: `${out}/a.iso`,
        signal: ac.signal,
        onProgress: (p) => p.received >= 1_200_000 && ac.abort(),
      }),
    );
    assert.equal(first.reason, "interrupted");
    assert.ok(first.message.includes("run again to resume"), first.message);
    assert.equal(exists(`${out}/a.iso`), false);
    assert.equal(Deno.statSync(`${out}/a.iso.partial`).size, 1_200_000);
    // the later call rehashes the prefix, in the worker this time
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, { offThreadBytes: 1 });
    const r = ok(await fetchFile(opts));
    assert.equal(r.sha256, sha256(data));
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
    const resumed = m.requestsFor("/a.iso")[1];
    assert.equal(resumed.range, "bytes=1200000-");
    assert.ok(resumed.ifRange, "the validator survives the process in .partial.json");
    assert.equal(resumed.status, 206);
  });
});

Deno.test("fetchFile() returns iso-checksum-mismatch and keeps nothing", async () => {
  const data = randomBytes(200_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    const wrong = sha256("something else");
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, { expectedSha256: wrong });
    const f = failed(await fetchFile(opts));
    assert.equal(f.reason, "iso-checksum-mismatch");
    assert.ok(f.message.includes(sha256(data)) && f.message.includes(wrong), f.message);
    assert.deepEqual([...Deno.readDirSync(out)], []);
  });
});

Deno.test("fetchFile() downloads whole again when a resumed file fails its digest", async () => {
  const data = randomBytes(500_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    // a partial of the wrong bytes, left without validators: only the digest can tell
    Deno.writeFileSync(`${out}/a.iso.partial`, randomBytes(200_000));
    const { opts, log } = quick([m.url("a.iso")], `${out}/a.iso`, { expectedSha256: sha256(data) });
    const r = ok(await fetchFile(opts));
    assert.equal(r.sha256, sha256(data));
    const reqs = m.requestsFor("/a.iso");
    assert.deepEqual(reqs.map((q) => [q.range, q.status]), [["bytes=200000-", 206], [null, 200]]);
    assert.ok(log.some((l) => l.includes("downloading it whole")), log.join("\n"));
  });
});

Deno.test("fetchFile() starts from zero a partial it cannot prove belongs to the file", async () => {
  const data = randomBytes(300_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    Deno.writeFileSync(`${out}/a.iso.partial`, randomBytes(100_000)); // no validators, no digest
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`);
    ok(await fetchFile(opts));
    assert.equal(m.requestsFor("/a.iso")[0].range, null);
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
  });
});

Deno.test("fetchFile() completes a partial holding every byte from a 416 answer", async () => {
  const data = randomBytes(300_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    Deno.writeFileSync(`${out}/a.iso.partial`, data);
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, { expectedSha256: sha256(data) });
    const r = ok(await fetchFile(opts));
    assert.equal(r.sha256, sha256(data));
    assert.deepEqual(m.requestsFor("/a.iso").map((q) => q.status), [416]);
  });
});

Deno.test("fetchFile() completes a partial of the expected size without the network", async () => {
  const data = randomBytes(300_000);
  await withMirror({ "a.iso": data }, async (m, out) => {
    Deno.writeFileSync(`${out}/a.iso.partial`, data);
    const { opts } = quick([m.url("a.iso")], `${out}/a.iso`, {
      expectedSha256: sha256(data),
      expectedSize: data.length,
    });
    ok(await fetchFile(opts));
    assert.equal(m.requests.length, 0);
    assert.equal(fileDigest(`${out}/a.iso`), sha256(data));
  });
});

Deno.test("fetchFile() skips a mirror that serves another size than expected", async () => {
  const data = randomBytes(100_000);
  await withMirror({ "a/a.iso": randomBytes(99_000), "b/a.iso": data }, async (m, out) => {
    const urls = new Set<string>();
    const { opts } = quick([m.url("a/a.iso"), m.url("b/a.iso")], `${out}/a.iso`, {
      expectedSize: data.length,
      onProgress: (p) => urls.add(p.url),
    });
    const r = ok(await fetchFile(opts));
    assert.equal(r.url, m.url("b/a.iso"));
    assert.equal(m.requestsFor("/a/a.iso").length, 1);
    assert.deepEqual([...urls], [m.url("b/a.iso")], "not a byte taken from the wrong size");
  });
});

Deno.test("backoffDelay() grows: each delay is at least the previous one's maximum", () => {
  const p = { baseMs: 1000, maxMs: 30_000 };
  // below the cap; at the cap, delays stay between half of it and all of it
  for (let k = 1; p.baseMs * 2 ** k <= p.maxMs; k++) {
    const hi = backoffDelay(k, p, () => 0.999999);
    const lo = backoffDelay(k + 1, p, () => 0);
    assert.ok(lo >= hi, `k=${k}: ${lo} < ${hi}`);
  }
  assert.equal(backoffDelay(9, p, () => 0), 15_000);
  assert.equal(backoffDelay(1, DEFAULT_BACKOFF, () => 0), 500);
  assert.equal(backoffDelay(20, DEFAULT_BACKOFF, () => 0.999999), 30_000);
});

Deno.test("retryAfterMs() reads seconds and HTTP dates", () => {
  assert.equal(retryAfterMs("120"), 120_000);
  assert.equal(retryAfterMs(new Date(61_000).toUTCString(), 1_000), 60_000);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs("soon"), null);
});

Deno.test("formatBytes() uses binary units with three significant digits", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(15.5 * 1024 ** 2), "15.5 MiB");
  assert.equal(formatBytes(512 * 1024 ** 2), "512 MiB");
  assert.equal(formatBytes(2 * 1024 ** 3), "2.00 GiB");
});

Deno.test("formatEta() shows m:ss, h:mm:ss, and --:-- when unknown", () => {
  assert.equal(formatEta(65), "1:05");
  assert.equal(formatEta(3723), "1:02:03");
  assert.equal(formatEta(0.2), "0:01");
  assert.equal(formatEta(null), "--:--");
  assert.equal(formatEta(Infinity), "--:--");
  assert.equal(formatRate(null), "--/s");
});

Deno.test("formatProgressLine() shows percent, bytes, rate and ETA, with a bar when wide", () => {
  const p = { label: "d.iso", received: 512 * 1024 ** 2, total: 1024 ** 3, rate: 64 * 1024 ** 2 };
  assert.equal(formatProgressLine(p), "d.iso  50% 512 MiB / 1.00 GiB  64.0 MiB/s  ETA 0:08");
  const wide = formatProgressLine({ ...p, width: 80 });
  assert.equal(wide.length, 80 - 1);
  assert.match(wide, /^d\.iso {2}50% \[#+\.+\] {2}512 MiB/);
  assert.equal(
    formatProgressLine({ label: "d.iso", received: 2048, total: null, rate: null }),
    "d.iso  2.00 KiB  --/s",
  );
});

Deno.test("RateMeter.rate() follows a sliding window and restarts when bytes drop", () => {
  const m = new RateMeter(1000);
  m.add(0, 0);
  assert.equal(m.rate(), null);
  m.add(500, 500_000);
  assert.equal(m.rate(), 1_000_000);
  for (let t = 600; t <= 5000; t += 100) m.add(t, 500_000 + (t - 500) * 100); // slows to 100 kB/s
  assert.ok(Math.abs(m.rate()! - 100_000) < 1, String(m.rate()));
  m.add(5100, 0);
  assert.equal(m.rate(), null);
});

Deno.test("progressReporter() redraws a terminal at most every 100 ms and ends the line", () => {
  const writes: string[] = [];
  let now = 0;
  const r = progressReporter({
    label: "a.iso",
    out: { isTerminal: true, write: (t) => writes.push(t), columns: () => 100 },
    now: () => now,
  });
  for (let i = 0; i <= 100; i++) {
    now = i * 10; // 1 s of updates every 10 ms
    r.update({ url: "u", received: i * 1024 * 1024, total: 100 * 1024 * 1024 });
  }
  r.done();
  assert.equal(writes.length, 10 + 1 + 2, "ten redraws over 1 s, the first, and done()");
  assert.ok(writes.slice(0, -1).every((w) => w.startsWith("\r") && w.endsWith("\x1b[K")));
  assert.ok(writes.at(-2)!.includes("100%") && writes.at(-2)!.includes("100 MiB/s"));
  assert.equal(writes.at(-1), "\n");
});

Deno.test("progressReporter() prints plain lines periodically and a summary when not a terminal", () => {
  const lines: string[] = [];
  let now = 0;
  const r = progressReporter({
    label: "a.iso",
    out: { isTerminal: false, write: (t) => lines.push(t) },
    now: () => now,
    plainIntervalMs: 5000,
  });
  for (let s = 0; s <= 12; s++) {
    now = s * 1000;
    r.update({ url: "u", received: s * 1024 ** 2, total: 12 * 1024 ** 2 });
  }
  r.done();
  assert.equal(lines.length, 3 + 1, "at 0 s, 5 s, 10 s, and the summary");
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert.equal(lines.at(-1), "a.iso: 12.0 MiB in 12.0 s (1.00 MiB/s)\n");
});
