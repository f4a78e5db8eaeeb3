import assert from "node:assert/strict";
import { ConfigError } from "../../engine/failure.ts";
import { LocalStore } from "../../engine/store.ts";
import {
  openCacheStore,
  parseCacheModes,
  pullRequestBuild,
  resolveRemoteSettings,
  TieredStore,
} from "../../remote/mod.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const env = (vars: Record<string, string>) => (n: string) => vars[n];

Deno.test("parseCacheModes() reads local and remote parts in any order", () => {
  assert.deepEqual(parseCacheModes("local:rw,remote:r"), { local: "rw", remote: "r" });
  assert.deepEqual(parseCacheModes("remote:off"), { remote: "off" });
  assert.deepEqual(parseCacheModes(" remote:rw , local:r "), { local: "r", remote: "rw" });
});

Deno.test("parseCacheModes() throws a one-line ConfigError naming the value and the accepted form", () => {
  for (const bad of ["remote:write", "local", "local:rw,local:r", "", "remote:r,", "cloud:rw"]) {
    assert.throws(() => parseCacheModes(bad), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
      assert.match(e.message, /expected local:rw\|r\|off,remote:rw\|r\|off/);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("pullRequestBuild() recognizes pull-request builds of the common CI services", () => {
  assert.equal(pullRequestBuild(env({})), null);
  assert.equal(pullRequestBuild(env({ GITHUB_EVENT_NAME: "push" })), null);
  assert.equal(
    pullRequestBuild(env({ GITHUB_EVENT_NAME: "pull_request_target" })),
    "GITHUB_EVENT_NAME=pull_request_target",
  );
  assert.equal(pullRequestBuild(env({ CI_MERGE_REQUEST_IID: "42" })), "CI_MERGE_REQUEST_IID=42");
  assert.equal(pullRequestBuild(env({ BUILDKITE_PULL_REQUEST: "false" })), null);
  assert.equal(pullRequestBuild(env({ BUILDKITE_PULL_REQUEST: "7" })), "BUILDKITE_PULL_REQUEST=7");
  assert.equal(pullRequestBuild(env({ BUILD_REASON: "PullRequest" })), "BUILD_REASON=PullRequest");
});

Deno.test("resolveRemoteSettings() turns the remote on read-write with a URL and a key, from flags or env", () => {
  const s = resolveRemoteSettings(
    { remoteCache: "http://cache:9090/" },
    env({ KILN_REMOTE_CACHE_KEY: KEY }),
  );
  assert.equal(s.remote, "rw");
  assert.equal(s.local, "rw");
  assert.equal(s.url, "http://cache:9090/");
  assert.equal(s.warning, null);
  const fromEnv = resolveRemoteSettings(
    {},
    env({
      KILN_REMOTE_CACHE: "https://cache.example/kiln/",
      KILN_REMOTE_CACHE_KEY: KEY,
      KILN_CACHE_MODE: "local:r,remote:r",
      KILN_REMOTE_CACHE_HEADER: "Authorization: Bearer abc def",
      KILN_REMOTE_CACHE_JOBS: "3",
      KILN_REMOTE_CACHE_TIMEOUT: "5",
    }),
  );
  assert.deepEqual(
    [fromEnv.local, fromEnv.remote, fromEnv.concurrency, fromEnv.idleTimeoutMs],
    ["r", "r", 3, 5000],
  );
  assert.deepEqual(fromEnv.headers, { Authorization: "Bearer abc def" });
  const off = resolveRemoteSettings({}, env({ KILN_REMOTE_CACHE_KEY: KEY }));
  assert.equal(off.remote, "off");
});

Deno.test("resolveRemoteSettings() makes a pull-request build read-only unless remote:rw is explicit", () => {
  const vars = { KILN_REMOTE_CACHE_KEY: KEY, GITHUB_EVENT_NAME: "pull_request" };
  const pr = resolveRemoteSettings({ remoteCache: "http://cache/" }, env(vars));
  assert.equal(pr.remote, "r");
  assert.equal(pr.readOnlyReason, "GITHUB_EVENT_NAME=pull_request");
  const forced = resolveRemoteSettings(
    { remoteCache: "http://cache/", cache: "remote:rw" },
    env(vars),
  );
  assert.equal(forced.remote, "rw");
  assert.equal(forced.readOnlyReason, null);
});

Deno.test("resolveRemoteSettings() turns the remote off with one warning when KILN_REMOTE_CACHE_KEY is unset", () => {
  const s = resolveRemoteSettings({ remoteCache: "http://cache/" }, env({}));
  assert.equal(s.remote, "off");
  assert.match(s.warning!, /KILN_REMOTE_CACHE_KEY/);
  const warnings: string[] = [];
  const local = new LocalStore("/nonexistent-kiln-cache");
  assert.equal(openCacheStore(local, s, (m) => warnings.push(m)), local, "the local store as is");
  assert.deepEqual(warnings, [s.warning]);
});

Deno.test("resolveRemoteSettings() rejects bad values with ConfigErrors that never quote the credential", () => {
  const cases: [Record<string, string | undefined>, Record<string, string>, RegExp][] = [
    [{ cache: "remote:r" }, {}, /no remote cache is set: pass --remote-cache URL/],
    [{ remoteCache: "ftp://cache/" }, {}, /"ftp:" is not http: or https:/],
    [{ remoteCache: "not a url" }, {}, /not a URL/],
    [
      { remoteCache: "http://cache/" },
      { KILN_REMOTE_CACHE_KEY: KEY, KILN_REMOTE_CACHE_HEADER: "Bearer sekrit-token" },
      /expected "Name: value"/,
    ],
    [{ remoteCache: "http://cache/" }, { KILN_REMOTE_CACHE_KEY: "short" }, /too short/],
    [{}, { KILN_CACHE_MODE: "remote:maybe" }, /Bad KILN_CACHE_MODE value "remote:maybe"/],
    [{}, { KILN_REMOTE_CACHE_JOBS: "-1" }, /Bad KILN_REMOTE_CACHE_JOBS value "-1"/],
  ];
  for (const [flags, vars, re] of cases) {
    assert.throws(() => resolveRemoteSettings(flags, env(vars)), (e: Error) => {
      assert.ok(e instanceof ConfigError, e.message);
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /sekrit/);
      return true;
    });
  }
});

Deno.test("openCacheStore() puts a TieredStore in front of the local store when the remote is on", () => {
  const s = resolveRemoteSettings(
    { remoteCache: "http://user:pw@127.0.0.1:1/", cache: "local:r" },
    env({ KILN_REMOTE_CACHE_KEY: KEY }),
  );
  const store = openCacheStore(new LocalStore("/nonexistent-kiln-cache"), s, () => {});
  assert.ok(store instanceof TieredStore);
  assert.equal(store.remoteLabel, "http://127.0.0.1:1/", "no credentials in what messages show");
});
