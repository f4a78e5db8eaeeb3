import assert from "node:assert/strict";
import { HttpCache } from "../../remote/http_cache.ts";
import { startCacheServer } from "../rig/cache_server.ts";
import { makeTmp, randomBytes, removeTree, sha256, waitFor } from "../rig/workspace.ts";

const isFailure = (v: unknown): v is { reason: string; message: string } =>
  typeof v === "object" && v !== null && "reason" in v;

/** A loopback server whose answers the test scripts; counts requests and their overlap. */
function scriptedServer(answer: (req: Request, n: number) => Promise<Response> | Response) {
  let n = 0, inFlight = 0, maxInFlight = 0;
  const seen: { method: string; headers: Headers }[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      seen.push({ method: req.method, headers: new Headers(req.headers) });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await answer(req, n++);
      } finally {
        inFlight--;
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    seen,
    get maxInFlight() {
      return maxInFlight;
    },
    async [Symbol.asyncDispose]() {
      ac.abort();
      await server.finished;
    },
  };
}

const HASH = "ab".repeat(32);

Deno.test("HttpCache.putFile() uploads a file and getFile() downloads it verified; a second putFile() is only a HEAD", async () => {
  await using server = await startCacheServer();
  const dir = await makeTmp("http-cache-");
  try {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const digest = sha256(bytes);
    Deno.writeFileSync(`${dir}/blob`, bytes);
    const cache = new HttpCache({ url: server.url });
    assert.equal(await cache.head("cas", digest), false);
    assert.equal(await cache.putFile(digest, `${dir}/blob`, bytes.length), "stored");
    assert.deepEqual(Deno.readFileSync(server.path("cas", digest)), bytes);
    assert.equal(await cache.head("cas", digest), true);
    // nginx logs a request after answering it (a PUT's line may come after the next request's):
    // wait for all four (HEAD, HEAD, PUT, HEAD) before counting.
    await waitFor(() => server.requests().length >= 4, 5000);
    const before = server.requests().length;
    assert.equal(await cache.putFile(digest, `${dir}/blob`, bytes.length), "exists");
    await waitFor(() => server.requests().length > before, 5000);
    await new Promise((r) => setTimeout(r, 100)); // time for a PUT that should not come
    assert.deepEqual(server.requests().slice(before).map((l) => l.split(" ")[0]), ["HEAD"]);
    assert.equal(await cache.getFile(digest, `${dir}/down`, bytes.length), "ok");
    assert.deepEqual(Deno.readFileSync(`${dir}/down`), bytes);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("HttpCache.getFile() returns mismatch and removes the download when the server's blob was altered", async () => {
  await using server = await startCacheServer();
  const dir = await makeTmp("http-cache-");
  try {
    const bytes = new TextEncoder().encode("the real bytes\n");
    const digest = sha256(bytes);
    Deno.writeFileSync(`${dir}/blob`, bytes);
    const cache = new HttpCache({ url: server.url });
    assert.equal(await cache.putFile(digest, `${dir}/blob`, bytes.length), "stored");
    Deno.writeTextFileSync(server.path("cas", digest), "tampered bytes\n");
    assert.equal(await cache.getFile(digest, `${dir}/down`), "mismatch");
    assert.throws(() => Deno.statSync(`${dir}/down`), Deno.errors.NotFound);
    assert.equal(await cache.getBytes("cas", digest, 1024), "mismatch");
    assert.equal(await cache.getFile("cd".repeat(32), `${dir}/none`), "missing");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("HttpCache.putFile() returns mismatch and stores nothing when the file is not its digest", async () => {
  await using server = await startCacheServer();
  const dir = await makeTmp("http-cache-");
  try {
    const bytes = randomBytes(2 * 1024 * 1024);
    Deno.writeFileSync(`${dir}/blob`, bytes);
    const wrong = sha256("something else");
    const cache = new HttpCache({ url: server.url });
    assert.equal(await cache.putFile(wrong, `${dir}/blob`, bytes.length), "mismatch");
    assert.equal(await cache.head("cas", wrong), false, "no blob under the wrong name");
    assert.deepEqual(server.list("cas"), []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("HttpCache.putBytes() writes an action entry as JSON and getBytes() reads it back", async () => {
  await using server = await startCacheServer();
  const cache = new HttpCache({ url: server.url.replace(/\/$/, "") }); // no trailing slash
  const body = new TextEncoder().encode('{"outputFiles":[]}');
  assert.equal(await cache.getBytes("ac", HASH, 1024), "missing");
  assert.equal(await cache.putBytes("ac", HASH, body, "application/json"), "stored");
  assert.deepEqual(await cache.getBytes("ac", HASH, 1024), body);
  const tooBig = await cache.getBytes("ac", HASH, 4);
  assert.ok(isFailure(tooBig) && /more than 4 bytes/.test(tooBig.message));
});

Deno.test("HttpCache retries 503 answers with backoff, then succeeds", async () => {
  await using server = scriptedServer((_req, n) =>
    new Response(n < 2 ? "busy" : null, { status: n < 2 ? 503 : 200 })
  );
  const cache = new HttpCache({ url: server.url, backoffMs: 5 });
  assert.equal(await cache.head("cas", HASH), true);
  assert.equal(server.seen.length, 3);
});

Deno.test("HttpCache does not retry a 403 and its failure names the fix, never the credential", async () => {
  await using server = scriptedServer(() => new Response("denied", { status: 403 }));
  const cache = new HttpCache({
    url: server.url,
    headers: { Authorization: "Bearer s3cret-token" },
    backoffMs: 5,
  });
  const r = await cache.putBytes("ac", HASH, new Uint8Array([1]), "application/json");
  assert.ok(isFailure(r), "a failure value");
  assert.equal(r.reason, "remote-http-error");
  assert.match(r.message, /answered 403 to PUT \/ac\/abababababab…/);
  assert.match(r.message, /KILN_REMOTE_CACHE_HEADER|--cache remote:r/);
  assert.doesNotMatch(r.message, /s3cret/);
  assert.equal(server.seen.length, 1);
  assert.equal(server.seen[0].headers.get("authorization"), "Bearer s3cret-token");
  assert.equal(server.seen[0].headers.get("content-length"), "1");
});

Deno.test("HttpCache sends URL credentials as Basic auth and never shows them, and asks for action entries as JSON", async () => {
  await using server = scriptedServer(() => new Response(null, { status: 404 }));
  const url = server.url.replace("http://", "http://ci:pa%40ss@");
  const cache = new HttpCache({ url });
  assert.equal(cache.label.includes("pa"), false, cache.label);
  assert.equal(await cache.head("ac", HASH), false);
  assert.equal(server.seen[0].headers.get("authorization"), `Basic ${btoa("ci:pa@ss")}`);
  assert.equal(await cache.getBytes("ac", HASH, 100), "missing");
  assert.equal(
    server.seen[1].headers.get("accept"),
    "application/json",
    "bazel-remote's JSON form",
  );
});

Deno.test("HttpCache returns remote-unreachable after its retries when nothing listens", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const cache = new HttpCache({ url: `http://127.0.0.1:${port}/`, retries: 2, backoffMs: 5 });
  const r = await cache.head("cas", HASH);
  assert.ok(isFailure(r));
  assert.equal(r.reason, "remote-unreachable");
  assert.match(r.message, /failed HEAD \/cas\/abababababab… after 3 attempts/);
});

Deno.test("HttpCache fails a request that makes no progress within its idle timeout", async () => {
  await using server = scriptedServer(async (req) => {
    await new Promise((r) => setTimeout(r, 1500)); // longer than the client waits
    return new Response(null, { status: req.method === "HEAD" ? 200 : 500 });
  });
  const cache = new HttpCache({ url: server.url, idleTimeoutMs: 200, retries: 0 });
  const r = await cache.head("cas", HASH);
  assert.ok(isFailure(r));
  assert.match(r.message, /no progress for/);
});

Deno.test("HttpCache runs at most `concurrency` requests at once", async () => {
  await using server = scriptedServer(async () => {
    await new Promise((r) => setTimeout(r, 30));
    return new Response(null, { status: 404 });
  });
  const cache = new HttpCache({ url: server.url, concurrency: 2 });
  const hashes = Array.from({ length: 8 }, (_, i) => sha256(String(i)));
  const got = await Promise.all(hashes.map((h) => cache.head("cas", h)));
  assert.deepEqual(got, hashes.map(() => false));
  assert.equal(server.seen.length, 8);
  assert.equal(server.maxInFlight, 2);
});
