import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import { createGitHubApi, type GitHubApi } from "../../builders/github/api.ts";
import {
  delegateBuild,
  type DelegateOptions,
  type DelegateProgress,
  type DelegateResult,
  type DelegationFailure,
  dispatchInputs,
} from "../../builders/github/delegate.ts";
import { fixtureWorkflow, REPO, type Rig, startRig, TOKEN } from "../rig/fake_github_fixture.ts";
import { gitOrigin } from "../rig/git_origin.ts";
import { startFakeGitHub } from "../rig/fake_github.ts";
import { parseWorkflow, resolveInputs, substitute } from "../rig/fake_github_workflow.ts";
import {
  exists,
  isRunning,
  makeTmp,
  removeTree,
  REPO as KILN_REPO,
  waitFor,
} from "../rig/workspace.ts";

function ok<T>(r: T | Failure): T {
  if (r && typeof r === "object" && "reason" in r) assert.fail(`${r.reason}: ${r.message}`);
  return r as T;
}

function fail(r: unknown): DelegationFailure {
  assert.ok(
    r && typeof r === "object" && "reason" in r,
    `expected a Failure, got ${JSON.stringify(r)}`,
  );
  return r as DelegationFailure;
}

async function options(rig: Rig, extra: Partial<DelegateOptions> = {}): Promise<DelegateOptions> {
  const api: GitHubApi = ok(createGitHubApi({ token: TOKEN, baseUrl: rig.gh.url }));
  return {
    api,
    repo: REPO,
    workflow: "build-templates.yml",
    ref: "main",
    sha: await rig.git.git(["rev-parse", "HEAD"]),
    targets: ["image:a"],
    keys: { "image:a": "a".repeat(64) },
    pollMs: 20,
    maxPollMs: 100,
    ...extra,
  };
}

Deno.test("delegateBuild() dispatches the build, reports its progress and succeeds with the run's id and URL", async () => {
  await using rig = await startRig({ startDelayMs: 150 });
  const seen: DelegateProgress[] = [];
  const o = await options(rig, {
    targets: ["image:a", "nap", "image:b"],
    keys: { "image:a": "1".repeat(64), "image:b": "2".repeat(64) },
    requestId: "k-success",
    onProgress: (p) => seen.push(p),
  });
  const r = ok<DelegateResult>(await delegateBuild(o));
  const run = rig.gh.run(r.runId)!;
  assert.equal(r.url, `${rig.gh.url}/acme/kiln/actions/runs/${r.runId}`);
  assert.equal(r.requestId, "k-success");
  assert.equal(run.conclusion, "success", run.log);
  assert.deepEqual(run.inputs, {
    targets: "image:a nap image:b",
    keys: JSON.stringify(o.keys),
    ref: o.sha,
    request_id: "k-success",
  });
  assert.equal(run.displayTitle, "kiln k-success");
  assert.equal(
    Deno.readTextFileSync(`${rig.out}/built.txt`),
    "image:a v1 CI=true GITHUB_ACTIONS=true\nimage:b v1 CI=true GITHUB_ACTIONS=true\n",
  );
  const phases = seen.map((p) => p.phase);
  assert.equal(phases[0], "dispatched");
  assert.ok(phases.includes("queued"), phases.join(" "));
  assert.equal(phases.at(-1), "completed");
  const building = seen.find((p) => p.phase === "in_progress" && p.step === "Build");
  assert.ok(building, JSON.stringify(seen));
  assert.equal(building.job, "dispatch");
  assert.equal(building.text, `in progress: dispatch › Build (${r.url})`);
});

Deno.test("delegateBuild() finds its run by request id when the dispatch does not return it", async () => {
  await using rig = await startRig({ runDetails: "ignored", listDelayMs: 300 });
  const o = await options(rig, { requestId: "k-mine" });
  // Someone else's run of the same workflow, dispatched just before: not ours.
  ok(
    await o.api.dispatch({
      repo: REPO,
      workflow: o.workflow,
      ref: "main",
      inputs: { targets: "slow", ref: o.sha, request_id: "k-theirs" },
    }),
  );
  const r = ok<DelegateResult>(await delegateBuild(o));
  const run = rig.gh.run(r.runId)!;
  assert.equal(run.displayTitle, "kiln k-mine");
  assert.equal(run.conclusion, "success");
  const lists = rig.gh.requests.filter((q) =>
    q.path.includes("/workflows/build-templates.yml/runs")
  );
  assert.ok(lists.length >= 2, "the run appears after a delay: listed again until found");
  const theirs = rig.gh.runs().find((x) => x.displayTitle === "kiln k-theirs")!;
  assert.equal(theirs.status, "in_progress", "the other run was left alone");
});

Deno.test("delegateBuild() fails with the run's URL and the failed job and step", async () => {
  await using rig = await startRig();
  const r = fail(await delegateBuild(await options(rig, { targets: ["image:a", "fail"] })));
  assert.equal(r.reason, "delegation-failed");
  assert.equal(r.job, "dispatch");
  assert.equal(r.step, "Build");
  assert.equal(r.url, `${rig.gh.url}/acme/kiln/actions/runs/${r.runId}`);
  assert.equal(
    r.message,
    `Cloud build run ${r.runId} failed in job "dispatch", step "Build" (${r.url}): open the run for its log, or build locally with --builder local`,
  );
  assert.match(rig.gh.run(r.runId!)!.log, /task fail: exit 3/);
  // The run's URL serves its log.
  const page = await (await fetch(r.url!)).text();
  assert.match(page, /task fail: exit 3/);
});

Deno.test("delegateBuild() cancels the run on Ctrl-C (abort) and the fake shows it cancelled", async () => {
  await using rig = await startRig();
  const ctl = new AbortController();
  const o = await options(rig, { targets: ["slow"], signal: ctl.signal });
  const pending = delegateBuild(o);
  // Ctrl-C once the build step runs (its pid file written), so its processes can be checked.
  assert.ok(await waitFor(() => exists(`${rig.out}/slow.pid`), 20_000), "the build step started");
  ctl.abort();
  const r = fail(await pending);
  assert.equal(r.reason, "delegation-interrupted");
  assert.equal(r.message, `Interrupted: cancelled cloud build run ${r.runId} (${r.url})`);
  const run = await rig.gh.waitForRun(r.runId!, (x) => x.status === "completed", 10_000);
  assert.equal(run.conclusion, "cancelled");
  assert.ok(
    rig.gh.requests.some((q) =>
      q.method === "POST" && q.path.endsWith(`/runs/${r.runId}/cancel`) && q.status === 202
    ),
  );
  const pid = Number(Deno.readTextFileSync(`${rig.out}/slow.pid`));
  assert.ok(await waitFor(() => !isRunning(pid), 5000), "the build's processes were killed");
});

Deno.test("delegateBuild() gives up waiting at the timeout, naming the URL and the option, and leaves the run going", async () => {
  await using rig = await startRig();
  const r = fail(
    await delegateBuild(
      await options(rig, { targets: ["slow"], timeoutMs: 400, timeoutOption: "--cloud-timeout" }),
    ),
  );
  assert.equal(r.reason, "delegation-timeout");
  assert.equal(
    r.message,
    `Cloud build run ${r.runId} did not finish within 400ms (${r.url}): it goes on and fills the remote cache; raise the limit with --cloud-timeout, or build again later to restore its outputs`,
  );
  assert.notEqual(rig.gh.run(r.runId!)!.status, "completed");
  assert.ok(!rig.gh.requests.some((q) => q.path.endsWith("/cancel")));
});

Deno.test("delegateBuild() returns the API's failure when GitHub refuses the dispatch", async () => {
  await using rig = await startRig();
  const r = fail(await delegateBuild(await options(rig, { ref: "not-pushed" })));
  assert.equal(r.reason, "github-invalid-request");
  assert.match(r.message, /No ref found for: not-pushed/);
  assert.equal(rig.gh.runs().length, 0);
});

Deno.test("delegateBuild() runs a real kiln build in the fake's clone with CI=true", async () => {
  // A repository holding kiln's committed sources, with a workflow whose build step runs kiln.
  const g = await gitOrigin("gh-kiln-", {});
  const cache = await makeTmp("gh-kiln-cache-");
  try {
    await g.git(["fetch", "-q", KILN_REPO, "HEAD"]);
    await g.git(["reset", "-q", "--hard", "FETCH_HEAD"]);
    const run =
      "deno run -A build.ts build --file examples/hello/kiln.yaml --json ${{ inputs.targets }}";
    const sha = await g.commit("workflow", {
      ".github/workflows/build-templates.yml": fixtureWorkflow(run),
    });
    await g.git(["push", "-q", "-f", "origin", "HEAD:main"]);
    await using gh = await startFakeGitHub({
      token: TOKEN,
      repos: { "acme/kiln": g.origin },
      env: { KILN_CACHE_DIR: cache },
    });
    const api = ok(createGitHubApi({ token: TOKEN, baseUrl: gh.url }));
    const r = await delegateBuild({
      api,
      repo: REPO,
      workflow: "build-templates.yml",
      ref: "main",
      sha,
      targets: ["report"],
      keys: {},
      pollMs: 50,
      maxPollMs: 500,
    });
    const log = gh.runs()[0]?.log ?? "";
    ok(r);
    assert.match(log, /"ran":4/, log);
    const clone = `${gh.runs()[0].dir}/work`;
    assert.equal(Deno.readTextFileSync(`${clone}/examples/hello/out/report.txt`).trim(), "3");
    assert.ok([...Deno.readDirSync(`${cache}/ac`)].length > 0, "the CI build filled its cache");
  } finally {
    await removeTree(cache);
    await removeTree(g.dir);
  }
});

Deno.test("delegateBuild() says when no run with its request id appears", async () => {
  await using rig = await startRig({ runDetails: "ignored", listDelayMs: 60_000 });
  const r = fail(
    await delegateBuild(await options(rig, { requestId: "k-lost", findTimeoutMs: 300 })),
  );
  assert.equal(r.reason, "delegation-run-not-found");
  assert.match(
    r.message,
    new RegExp(
      `^Dispatched workflow "build-templates\\.yml" on "acme/kiln" \\(branch "main"\\) but no run titled with request id "k-lost" appeared within \\d+ms: make the workflow's run-name include inputs\\.request_id, and look at ${rig.gh.url}/acme/kiln/actions$`,
    ),
  );
});

Deno.test("dispatchInputs() are what .github/workflows/build-templates.yml accepts, and its build step gets the targets", () => {
  const path = ".github/workflows/build-templates.yml";
  const spec = parseWorkflow(Deno.readTextFileSync(`${KILN_REPO}/${path}`), path);
  if (typeof spec === "string") assert.fail(spec);
  const sha = "0123456789abcdef0123456789abcdef01234567";
  const inputs = dispatchInputs({
    targets: ["image:demo:compress", "image:ubuntu:compress"],
    keys: { "image:demo:compress": "9".repeat(64) },
    sha,
  }, "k0123456789abcdef");
  assert.ok(spec.dispatchInputs, "the workflow has a workflow_dispatch trigger");
  const resolved = resolveInputs(spec.dispatchInputs, inputs);
  if (typeof resolved === "string") assert.fail(resolved);
  const github = { ref_name: "main" };
  assert.equal(
    substitute(spec.runName ?? "", { inputs: resolved, github }),
    "kiln k0123456789abcdef",
  );
  const build = spec.jobs.find((j) => j.key === "dispatch")?.steps.find((s) => s.id === "build");
  assert.ok(build?.run, "job dispatch has a step with id: build");
  assert.match(
    substitute(build.run, { inputs: resolved, github }),
    /\bbuild\.ts build\b.* image:demo:compress image:ubuntu:compress$/,
  );
});
