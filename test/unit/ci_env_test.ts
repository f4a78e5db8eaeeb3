import assert from "node:assert/strict";
import { detectCi, inCi } from "../../builders/ci_env.ts";

const lookup = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("detectCi() returns no provider when no CI variable is set", () => {
  assert.deepEqual(detectCi(lookup({ HOME: "/root" })), { provider: null, pullRequest: false });
  assert.equal(inCi(lookup({})), false);
});

Deno.test("detectCi() reads a GitHub Actions push with its run URL, commit and branch", () => {
  const ci = detectCi(lookup({
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: "push",
    GITHUB_SERVER_URL: "https://github.example.com",
    GITHUB_REPOSITORY: "acme/kiln",
    GITHUB_RUN_ID: "1234",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SHA: "abc123",
    GITHUB_REF_NAME: "main",
    GITHUB_REF_TYPE: "branch",
    GITHUB_HEAD_REF: "",
  }));
  assert.deepEqual(ci, {
    provider: "github",
    pullRequest: false,
    runUrl: "https://github.example.com/acme/kiln/actions/runs/1234",
    commit: "abc123",
    branch: "main",
  });
});

Deno.test("detectCi() marks GitHub pull_request runs and links a rerun's attempt", () => {
  for (const event of ["pull_request", "pull_request_target"]) {
    const ci = detectCi(lookup({
      GITHUB_ACTIONS: "true",
      GITHUB_EVENT_NAME: event,
      GITHUB_REPOSITORY: "acme/kiln",
      GITHUB_RUN_ID: "9",
      GITHUB_RUN_ATTEMPT: "2",
      GITHUB_HEAD_REF: "feature/x",
      GITHUB_REF_NAME: "42/merge",
    }));
    assert.equal(ci.pullRequest, true, event);
    assert.equal(ci.runUrl, "https://github.com/acme/kiln/actions/runs/9/attempts/2");
    assert.equal(ci.branch, "feature/x", "a pull request's branch is its source branch");
  }
  const dispatch = detectCi(
    lookup({ GITHUB_ACTIONS: "true", GITHUB_EVENT_NAME: "workflow_dispatch" }),
  );
  assert.equal(dispatch.pullRequest, false);
  assert.equal(dispatch.runUrl, undefined, "no run URL without repository and run id");
});

Deno.test("detectCi() reads GitLab merge request pipelines and branch pipelines", () => {
  const mr = detectCi(lookup({
    CI: "true",
    GITLAB_CI: "true",
    CI_MERGE_REQUEST_IID: "17",
    CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: "topic",
    CI_JOB_URL: "https://gitlab.example.com/acme/kiln/-/jobs/5",
    CI_COMMIT_SHA: "def",
  }));
  assert.deepEqual(mr, {
    provider: "gitlab",
    pullRequest: true,
    runUrl: "https://gitlab.example.com/acme/kiln/-/jobs/5",
    commit: "def",
    branch: "topic",
  });
  const push = detectCi(lookup({
    GITLAB_CI: "true",
    CI_PIPELINE_URL: "https://gitlab.example.com/acme/kiln/-/pipelines/3",
    CI_COMMIT_BRANCH: "main",
  }));
  assert.equal(push.pullRequest, false);
  assert.equal(push.runUrl, "https://gitlab.example.com/acme/kiln/-/pipelines/3");
  assert.equal(push.branch, "main");
});

Deno.test("detectCi() reads Buildkite's BUILDKITE_PULL_REQUEST as a number or false", () => {
  const base = {
    BUILDKITE: "true",
    BUILDKITE_BUILD_URL: "https://buildkite.com/acme/kiln/builds/8",
    BUILDKITE_BRANCH: "main",
    BUILDKITE_COMMIT: "c0ffee",
  };
  assert.deepEqual(detectCi(lookup({ ...base, BUILDKITE_PULL_REQUEST: "false" })), {
    provider: "buildkite",
    pullRequest: false,
    runUrl: "https://buildkite.com/acme/kiln/builds/8",
    commit: "c0ffee",
    branch: "main",
  });
  assert.equal(detectCi(lookup({ ...base, BUILDKITE_PULL_REQUEST: "12" })).pullRequest, true);
});

Deno.test("detectCi() reads Jenkins from JENKINS_URL and a pull request from CHANGE_ID", () => {
  const branch = detectCi(lookup({
    JENKINS_URL: "https://ci.example.com/",
    BUILD_URL: "https://ci.example.com/job/kiln/4/",
    BRANCH_NAME: "main",
    GIT_COMMIT: "aaa",
  }));
  assert.deepEqual(branch, {
    provider: "jenkins",
    pullRequest: false,
    runUrl: "https://ci.example.com/job/kiln/4/",
    commit: "aaa",
    branch: "main",
  });
  const pr = detectCi(lookup({
    JENKINS_URL: "https://ci.example.com/",
    CHANGE_ID: "31",
    CHANGE_BRANCH: "fix",
    BRANCH_NAME: "PR-31",
  }));
  assert.equal(pr.pullRequest, true);
  assert.equal(pr.branch, "fix");
});

Deno.test("detectCi() reads CircleCI pull requests from CIRCLE_PULL_REQUEST", () => {
  const ci = detectCi(lookup({
    CI: "true",
    CIRCLECI: "true",
    CIRCLE_BUILD_URL: "https://circleci.com/gh/acme/kiln/77",
    CIRCLE_SHA1: "bbb",
    CIRCLE_BRANCH: "pull/5",
    CIRCLE_PULL_REQUEST: "https://github.com/acme/kiln/pull/5",
  }));
  assert.deepEqual(ci, {
    provider: "circleci",
    pullRequest: true,
    runUrl: "https://circleci.com/gh/acme/kiln/77",
    commit: "bbb",
    branch: "pull/5",
  });
  assert.equal(detectCi(lookup({ CIRCLECI: "true" })).pullRequest, false);
});

Deno.test("detectCi() falls back to generic for CI=true and ignores CI=false or 0", () => {
  assert.deepEqual(detectCi(lookup({ CI: "true" })), { provider: "generic", pullRequest: false });
  assert.deepEqual(detectCi(lookup({ CI: "1" })), { provider: "generic", pullRequest: false });
  for (const v of ["false", "FALSE", "0", ""]) {
    assert.equal(detectCi(lookup({ CI: v })).provider, null, `CI=${v}`);
  }
  assert.equal(inCi(lookup({ CI: "yes" })), true);
});

Deno.test("detectCi() lets a service's own variable win over CI=false and over other services", () => {
  assert.equal(detectCi(lookup({ CI: "false", GITHUB_ACTIONS: "true" })).provider, "github");
  assert.equal(detectCi(lookup({ GITHUB_ACTIONS: "false", GITLAB_CI: "true" })).provider, "gitlab");
  assert.equal(
    detectCi(lookup({ JENKINS_URL: "", CIRCLECI: "true" })).provider,
    "circleci",
    "an empty JENKINS_URL is not Jenkins",
  );
});

Deno.test("detectCi() sees a pull-request build of a service it has no branch for when CI is set", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(detectCi(env({ CI: "true", TRAVIS_PULL_REQUEST: "17" })).pullRequest, true);
  assert.equal(detectCi(env({ CI: "true", TRAVIS_PULL_REQUEST: "false" })).pullRequest, false);
  assert.equal(detectCi(env({ CI: "true", BUILD_REASON: "PullRequest" })).pullRequest, true);
});
