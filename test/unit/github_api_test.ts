import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import { createGitHubApi, type GitHubApi } from "../../builders/github/api.ts";
import { REPO, startRig, TOKEN } from "../rig/fake_github_fixture.ts";
import { isRunning, waitFor } from "../rig/workspace.ts";

function ok<T>(r: T | Failure): T {
  if (r && typeof r === "object" && "reason" in r) assert.fail(`${r.reason}: ${r.message}`);
  return r as T;
}

function fail(r: unknown): Failure {
  assert.ok(
    r && typeof r === "object" && "reason" in r,
    `expected a Failure, got ${JSON.stringify(r)}`,
  );
  return r as Failure;
}

function api(baseUrl: string, token = TOKEN): GitHubApi {
  return ok(createGitHubApi({ token, baseUrl }));
}

async function head(rig: { git: { git(a: string[]): Promise<string> } }) {
  return await rig.git.git(["rev-parse", "HEAD"]);
}

Deno.test("createGitHubApi() dispatches, lists, gets and lists the jobs of a run as GitHub documents them", async () => {
  await using rig = await startRig();
  const gh = api(rig.gh.url);
  const sha = await head(rig);
  const since = new Date(Date.now() - 60_000);
  const inputs = { targets: "image:a", keys: '{"image:a":"k1"}', ref: sha, request_id: "k-api-1" };
  const d = ok(
    await gh.dispatch({ repo: REPO, workflow: "build-templates.yml", ref: "main", inputs }),
  );
  assert.equal(typeof d.runId, "number");
  assert.equal(d.url, `${rig.gh.url}/acme/kiln/actions/runs/${d.runId}`);
  const post = rig.gh.requests.find((r) => r.method === "POST")!;
  assert.equal(post.path, "/repos/acme/kiln/actions/workflows/build-templates.yml/dispatches");
  assert.equal(post.status, 200);
  assert.deepEqual(post.body, { ref: "main", inputs, return_run_details: true });

  const runs = ok(await gh.listRuns(REPO, "build-templates.yml", since));
  assert.equal(runs.length, 1);
  const listed = runs[0];
  assert.equal(listed.id, d.runId);
  assert.equal(listed.display_title, "kiln k-api-1");
  assert.equal(listed.name, "Build templates");
  assert.equal(listed.event, "workflow_dispatch");
  assert.equal(listed.head_branch, "main");
  assert.equal(listed.head_sha, sha);
  const get = rig.gh.requests.find((r) => r.path.includes("/workflows/build-templates.yml/runs"))!;
  const q = new URL(get.path, "http://x").searchParams;
  assert.equal(q.get("event"), "workflow_dispatch");
  assert.match(q.get("created")!, /^>=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // Runs created before `since` are not listed.
  assert.deepEqual(
    ok(await gh.listRuns(REPO, "build-templates.yml", new Date(Date.now() + 60_000))),
    [],
  );

  await rig.gh.waitForRun(d.runId!, (r) => r.status === "completed");
  const run = ok(await gh.getRun(REPO, d.runId!));
  assert.equal(run.status, "completed");
  assert.equal(run.conclusion, "success", rig.gh.run(d.runId!)!.log);
  const jobs = ok(await gh.listJobs(REPO, d.runId!));
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0].name, "dispatch");
  assert.deepEqual(
    jobs[0].steps.map((s) => [s.number, s.name, s.status, s.conclusion]),
    [
      [1, "Set up job", "completed", "success"],
      [2, "Run actions/checkout@v4", "completed", "skipped"],
      [3, "Run denoland/setup-deno@v2", "completed", "skipped"],
      [4, "Build", "completed", "success"],
      [5, "Complete job", "completed", "success"],
    ],
  );
  // The runner ran the build step in a clone at inputs.ref, with CI=true.
  assert.equal(
    Deno.readTextFileSync(`${rig.out}/built.txt`),
    "image:a v1 CI=true GITHUB_ACTIONS=true\n",
  );
  // Cancelling a completed run: GitHub answers 409.
  assert.equal(await gh.cancelRun(REPO, d.runId!), "completed");
  assert.equal(rig.gh.requests.at(-1)!.status, 409);
});

Deno.test("dispatch() returns no run id when the server answers 204, and retries without return_run_details when refused", async () => {
  for (const runDetails of ["ignored", "rejected"] as const) {
    await using rig = await startRig({ runDetails });
    const gh = api(rig.gh.url);
    const inputs = { targets: "x", ref: await head(rig), request_id: "k-204" };
    const d = ok(
      await gh.dispatch({ repo: REPO, workflow: "build-templates.yml", ref: "main", inputs }),
    );
    assert.deepEqual(d, {});
    const posts = rig.gh.requests.filter((r) => r.method === "POST").map((r) => r.status);
    assert.deepEqual(posts, runDetails === "ignored" ? [204] : [422, 204]);
    assert.equal(rig.gh.runs().length, 1);
  }
});

Deno.test("cancelRun() cancels a running run: the fake kills its processes and shows it cancelled", async () => {
  await using rig = await startRig();
  const gh = api(rig.gh.url);
  const inputs = { targets: "slow", ref: await head(rig), request_id: "k-cancel" };
  const d = ok(
    await gh.dispatch({ repo: REPO, workflow: "build-templates.yml", ref: "main", inputs }),
  );
  const pidFile = `${rig.out}/slow.pid`;
  assert.ok(
    await waitFor(() => {
      try {
        return Deno.readTextFileSync(pidFile).trim() !== "";
      } catch {
        return false;
      }
    }, 30_000),
  );
  const pid = Number(Deno.readTextFileSync(pidFile));
  assert.ok(isRunning(pid));
  assert.equal(ok(await gh.getRun(REPO, d.runId!)).status, "in_progress");
  assert.equal(await gh.cancelRun(REPO, d.runId!), "requested");
  assert.equal(rig.gh.requests.at(-1)!.status, 202);
  await rig.gh.waitForRun(d.runId!, (r) => r.status === "completed", 10_000);
  const run = ok(await gh.getRun(REPO, d.runId!));
  assert.equal(run.conclusion, "cancelled");
  assert.ok(await waitFor(() => !isRunning(pid), 5000), "the step's background sleep was killed");
  const steps = ok(await gh.listJobs(REPO, d.runId!))[0].steps;
  assert.equal(steps.find((s) => s.name === "Build")!.conclusion, "cancelled");
});

Deno.test("createGitHubApi() turns 401, 404 and 422 into one-line failures naming the repository and the fix", async () => {
  await using rig = await startRig();
  const sha = await head(rig);
  const inputs = { targets: "x", ref: sha, request_id: "k-err" };
  const req = { repo: REPO, workflow: "build-templates.yml", ref: "main", inputs };

  const auth = fail(await api(rig.gh.url, "wrong").dispatch(req));
  assert.equal(auth.reason, "github-auth");
  assert.equal(
    auth.message,
    'GitHub answered 401 (Bad credentials) to dispatch workflow "build-templates.yml" (branch "main") on "acme/kiln": set GITHUB_TOKEN to a valid token with the Actions read and write permission on the repository (classic tokens: the repo and workflow scopes)',
  );

  const gh = api(rig.gh.url);
  const noWf = fail(await gh.dispatch({ ...req, workflow: "nope.yml" }));
  assert.equal(noWf.reason, "github-not-found");
  assert.match(
    noWf.message,
    /^GitHub answered 404 \(Not Found\) to dispatch workflow "nope\.yml" \(branch "main"\) on "acme\/kiln": check that KILN_GITHUB_REPOSITORY names the repository, that \.github\/workflows\/nope\.yml is on its default branch/,
  );
  const noRepo = fail(await gh.dispatch({ ...req, repo: { owner: "acme", name: "other" } }));
  assert.equal(noRepo.reason, "github-not-found");
  assert.match(noRepo.message, /on "acme\/other"/);

  const badInput = fail(await gh.dispatch({ ...req, inputs: { ...inputs, extra: "1" } }));
  assert.equal(badInput.reason, "github-invalid-request");
  assert.equal(
    badInput.message,
    'GitHub answered 422 (Unexpected inputs provided: ["extra"]) to dispatch workflow "build-templates.yml" (branch "main") on "acme/kiln": make the workflow_dispatch inputs of "build-templates.yml" on "main" declare targets, keys, ref and request_id, and push it',
  );
  const missing = fail(await gh.dispatch({ ...req, inputs: { keys: "{}", ref: sha } }));
  assert.match(missing.message, /\(Required input 'targets' not provided\)/);
  const noRef = fail(await gh.dispatch({ ...req, ref: "feature" }));
  assert.equal(noRef.reason, "github-invalid-request");
  assert.match(
    noRef.message,
    /\(No ref found for: feature\) .*: push branch "feature" to GitHub \(git push origin feature\)$/,
  );

  const noRun = fail(await gh.getRun(REPO, 424242));
  assert.equal(noRun.reason, "github-not-found");
  assert.equal(rig.gh.runs().length, 0, "no refused dispatch started a run");
});

Deno.test("createGitHubApi() fails without a token, and names the URL when the API is unreachable", async () => {
  const none = fail(createGitHubApi({ env: () => undefined }));
  assert.equal(none.reason, "github-token-missing");
  assert.match(none.message, /^GITHUB_TOKEN is not set: /);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const gh = ok(
    createGitHubApi({
      env: (n) => ({ GITHUB_TOKEN: "t", GITHUB_API_URL: `http://127.0.0.1:${port}/` })[n],
    }),
  );
  assert.equal(gh.baseUrl, `http://127.0.0.1:${port}`);
  const r = fail(await gh.getRun(REPO, 1));
  assert.equal(r.reason, "github-unreachable");
  assert.match(
    r.message,
    new RegExp(
      `^Cannot reach the GitHub API at "http://127\\.0\\.0\\.1:${port}" to get run 1 on "acme/kiln" \\(.+\\): check GITHUB_API_URL and the network, or build locally with --builder local$`,
    ),
  );
});
