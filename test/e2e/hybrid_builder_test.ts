/**
 * The hybrid builder end to end, with real processes everywhere but GitHub: clones of a git
 * origin holding this repository, `deno run -A build.ts build` of the demo OS-image pipeline
 * (packer and QEMU under TCG), a real nginx WebDAV remote cache, and the loopback fake of
 * GitHub's REST API, whose runner executes the workflow's build step in a clone of its own.
 *
 * 1. Clone A (CI=true, empty local cache) builds the demo image and fills the remote cache;
 *    clone B, elsewhere with an empty local cache, builds the same target: 0 tasks run and the
 *    outputs are byte-identical.
 * 2. Clone D with an altered action entry on the server: the entry is rejected and only that
 *    task runs.
 * 3. Clone C with `--builder cloud` and a second, empty remote cache: the VM steps are dispatched
 *    to the fake GitHub, built there, and restored here from the remote cache.
 */

import assert from "node:assert/strict";
import { startCacheServer } from "../rig/cache_server.ts";
import { startFakeGitHub } from "../rig/fake_github.ts";
import { strayVmProcesses } from "../rig/vm_processes.ts";
import {
  type BuildJson,
  copyPaths,
  describeRun,
  makeTmp,
  parseJson,
  removeTree,
  REPO,
  treeDigests,
} from "../rig/workspace.ts";

const TARGET = "image:demo:compress";
const VM_STEPS = ["image:demo:packer", "image:demo:validate", "image:demo:compress"];
const SECRET = "e2e-remote-cache-key-0123456789abcdef";

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdin: "null", env: GIT_ENV }).output();
  const dec = new TextDecoder();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

const GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "e2e",
  GIT_AUTHOR_EMAIL: "e2e@example.invalid",
  GIT_COMMITTER_NAME: "e2e",
  GIT_COMMITTER_EMAIL: "e2e@example.invalid",
};

/** A bare origin holding this repository's working tree (what the tests run is what they test). */
async function originOfThisRepo(dir: string): Promise<string> {
  const files = (await run("git", ["ls-files", "-co", "--exclude-standard"], REPO))
    .split("\n").filter((f) => f && !f.startsWith("test/") && !f.startsWith("bench/"));
  const src = `${dir}/src`;
  const tops = [...new Set(files.map((f) => f.split("/")[0]))];
  await copyPaths(REPO, src, tops);
  // Only the listed files are committed (copyPaths copied whole top-level folders).
  await run("git", ["init", "-q", "-b", "main"], src);
  await run("git", ["add", "--", ...files], src);
  await run("git", ["commit", "-q", "-m", "kiln"], src);
  const origin = `${dir}/origin.git`;
  await run("git", ["clone", "-q", "--bare", src, origin], dir);
  return origin;
}

async function clone(origin: string, dest: string): Promise<void> {
  await run("git", ["clone", "-q", origin, dest], "/");
}

/** `build.ts build` in a clone, as its own process. */
async function build(
  ws: string,
  args: string[],
  env: Record<string, string>,
  more: () => string = () => "",
): Promise<{ json: BuildJson; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "build.ts", "build", "--json", ...args],
    cwd: ws,
    env: { NO_COLOR: "1", ...GIT_ENV, ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  const res = {
    code: r.code,
    signal: r.signal,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr),
  };
  assert.equal(res.code, 0, describeRun(res) + more());
  return { json: parseJson(res), stderr: res.stderr };
}

const statusOf = (j: BuildJson) => Object.fromEntries(j.tasks.map((t) => [t.id, t.status]));

/** What the demo pipeline leaves in a workspace, file by file. */
function outputs(ws: string): Map<string, string> {
  return new Map([...treeDigests(ws, "dist/images/demo"), ...treeDigests(ws, "build/images/demo")]);
}

Deno.test("the hybrid builder shares results through the remote cache and delegates VM steps to GitHub Actions", async (t) => {
  const dir = await makeTmp("hybrid-");
  await using cache = await startCacheServer();
  const remote = { KILN_REMOTE_CACHE: cache.url, KILN_REMOTE_CACHE_KEY: SECRET };
  try {
    const origin = await originOfThisRepo(dir);

    await t.step("clone B restores everything clone A (CI) built, byte for byte", async () => {
      await clone(origin, `${dir}/a`);
      await clone(origin, `${dir}/b`);
      const a = await build(`${dir}/a`, [TARGET], {
        ...remote,
        CI: "true",
        KILN_CACHE_DIR: `${dir}/cache-a`,
      });
      assert.equal(a.json.failed, 0);
      assert.ok(a.json.ran >= VM_STEPS.length, `A ran the pipeline: ${a.stderr}`);
      assert.ok(cache.list("ac").length >= a.json.ran, "A uploaded an entry per task");

      const b = await build(`${dir}/b`, [TARGET], { ...remote, KILN_CACHE_DIR: `${dir}/cache-b` });
      assert.equal(b.json.ran, 0, `B ran nothing: ${JSON.stringify(statusOf(b.json))}`);
      assert.equal(b.json.cached, a.json.ran);
      const [fromA, fromB] = [outputs(`${dir}/a`), outputs(`${dir}/b`)];
      assert.ok(fromA.size >= 4, `outputs found: ${[...fromA.keys()]}`);
      assert.deepEqual(fromB, fromA);
    });

    await t.step(
      "an altered action entry on the server is rejected and its task rebuilt",
      async () => {
        await clone(origin, `${dir}/d`);
        const keys = cache.list("ac");
        // The compress step's entry: the one listing the release folder's metadata.
        const key = keys.find((k) =>
          Deno.readTextFileSync(cache.path("ac", k)).includes("dist/images/demo/metadata.json")
        );
        assert.ok(key, "an entry for the compress step");
        const text = Deno.readTextFileSync(cache.path("ac", key));
        const altered = text.replace(
          /kiln-hmac-sha256:([0-9a-f])/,
          (_m, c) => `kiln-hmac-sha256:${c === "0" ? 1 : 0}`,
        );
        assert.notEqual(altered, text);
        Deno.writeTextFileSync(cache.path("ac", key), altered);
        const d = await build(`${dir}/d`, [TARGET], {
          ...remote,
          KILN_CACHE_DIR: `${dir}/cache-d`,
        });
        assert.deepEqual(
          d.json.tasks.filter((x) => x.status === "ran").map((x) => x.id),
          ["image:demo:compress"],
          d.stderr,
        );
        assert.match(d.stderr, new RegExp(`warning: .*${key.slice(0, 12)}`));
      },
    );

    await t.step(
      "--builder cloud builds the VM steps on GitHub Actions and restores them here",
      async () => {
        await using cloudCache = await startCacheServer(); // nothing cached yet
        const cloudRemote = { KILN_REMOTE_CACHE: cloudCache.url, KILN_REMOTE_CACHE_KEY: SECRET };
        await using gh = await startFakeGitHub({
          token: "ghs_e2e",
          repos: { "acme/kiln": origin },
          env: { ...cloudRemote, KILN_CACHE_DIR: `${dir}/cache-ci`, NO_COLOR: "1" },
        });
        await clone(origin, `${dir}/c`);
        const c = await build(`${dir}/c`, ["--builder", "cloud", TARGET], {
          ...cloudRemote,
          KILN_CACHE_DIR: `${dir}/cache-c`,
          GITHUB_TOKEN: "ghs_e2e",
          GITHUB_API_URL: gh.url,
          KILN_GITHUB_REPOSITORY: "acme/kiln",
        }, () => `\nthe cloud run's log:\n${gh.runs().map((r) => r.log).join("\n")}`);
        const st = statusOf(c.json);
        for (const id of VM_STEPS) assert.equal(st[id], "cached", `${id}: ${c.stderr}`);
        assert.equal(c.json.failed, 0);
        const runs = gh.runs();
        assert.equal(runs.length, 1, "one workflow run for the three VM steps");
        assert.equal(runs[0].conclusion, "success");
        assert.match(c.stderr, /Building image:demo:compress on GitHub Actions/);
        assert.match(c.stderr, /GitHub Actions finished: http/);
        // What came back is what the runner built.
        assert.ok(cloudCache.list("ac").length >= VM_STEPS.length);
        assert.ok(outputs(`${dir}/c`).size >= 4);
      },
    );
  } finally {
    const stray = strayVmProcesses(dir);
    await removeTree(dir);
    assert.deepEqual(stray, [], "no QEMU left running");
  }
});
