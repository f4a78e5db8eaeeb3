/**
 * Which CI service kiln runs under, read from the environment variables each service documents.
 * The CLI uses it to pick its output (GitHub Actions gets log groups, annotations and a job
 * summary; every CI gets plain lines instead of the live view), and builders use it to label a
 * build with the run that made it.
 *
 * A pure function of an env lookup, so it is tested without touching the process environment.
 *
 * @module
 */

/** CI services kiln recognizes; `generic` is any other CI that sets `CI`. */
export type CiProvider = "github" | "gitlab" | "buildkite" | "jenkins" | "circleci" | "generic";

/** Reads one environment variable; `undefined` when unset. */
export type EnvLookup = (name: string) => string | undefined;

/** What kiln knows of the CI run it is part of. */
export interface CiEnv {
  /** The service, or `null` when not in CI. */
  readonly provider: CiProvider | null;
  /** True when the run builds a pull or merge request (not a branch push, a tag or a schedule). */
  readonly pullRequest: boolean;
  /** The web page of this run (job or pipeline), when the service publishes it. */
  readonly runUrl?: string;
  /** The commit being built. */
  readonly commit?: string;
  /** The branch being built (for a pull request, its source branch). */
  readonly branch?: string;
}

/** The process environment as an {@link EnvLookup}. */
export const processEnv: EnvLookup = (name) => Deno.env.get(name);

/**
 * True when a flag-like variable is set to something other than empty, `false` or `0`
 * (`CI=false` is a common way to turn CI behavior off).
 */
function on(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return v !== "" && v !== "false" && v !== "0";
}

/** A variable's value, with empty strings treated as unset. */
function val(env: EnvLookup, name: string): string | undefined {
  const v = env(name);
  return v === undefined || v === "" ? undefined : v;
}

/** Drops unset fields so results compare cleanly with `deepEqual`. */
function clean(e: CiEnv): CiEnv {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as CiEnv;
}

function github(env: EnvLookup): CiEnv {
  const server = val(env, "GITHUB_SERVER_URL") ?? "https://github.com";
  const repo = val(env, "GITHUB_REPOSITORY");
  const run = val(env, "GITHUB_RUN_ID");
  const attempt = val(env, "GITHUB_RUN_ATTEMPT");
  const event = val(env, "GITHUB_EVENT_NAME") ?? "";
  return {
    provider: "github",
    pullRequest: event === "pull_request" || event === "pull_request_target",
    runUrl: repo && run
      ? `${server}/${repo}/actions/runs/${run}${
        attempt && attempt !== "1" ? `/attempts/${attempt}` : ""
      }`
      : undefined,
    commit: val(env, "GITHUB_SHA"),
    // GITHUB_HEAD_REF is set only for pull requests: the source branch.
    branch: val(env, "GITHUB_HEAD_REF") ??
      (val(env, "GITHUB_REF_TYPE") === "tag" ? undefined : val(env, "GITHUB_REF_NAME")),
  };
}

function gitlab(env: EnvLookup): CiEnv {
  const mr = val(env, "CI_MERGE_REQUEST_IID") !== undefined;
  return {
    provider: "gitlab",
    pullRequest: mr,
    runUrl: val(env, "CI_JOB_URL") ?? val(env, "CI_PIPELINE_URL"),
    commit: val(env, "CI_COMMIT_SHA"),
    branch: mr
      ? val(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
      : val(env, "CI_COMMIT_BRANCH") ?? val(env, "CI_COMMIT_REF_NAME"),
  };
}

function buildkite(env: EnvLookup): CiEnv {
  // BUILDKITE_PULL_REQUEST is the PR number, or "false" for a branch build.
  return {
    provider: "buildkite",
    pullRequest: on(val(env, "BUILDKITE_PULL_REQUEST")),
    runUrl: val(env, "BUILDKITE_BUILD_URL"),
    commit: val(env, "BUILDKITE_COMMIT"),
    branch: val(env, "BUILDKITE_BRANCH"),
  };
}

function jenkins(env: EnvLookup): CiEnv {
  // Multibranch pipelines set CHANGE_ID (and CHANGE_BRANCH) for a pull request.
  const pr = val(env, "CHANGE_ID") !== undefined;
  return {
    provider: "jenkins",
    pullRequest: pr,
    runUrl: val(env, "BUILD_URL"),
    commit: val(env, "GIT_COMMIT"),
    branch: (pr ? val(env, "CHANGE_BRANCH") : undefined) ?? val(env, "BRANCH_NAME") ??
      val(env, "GIT_BRANCH"),
  };
}

function circleci(env: EnvLookup): CiEnv {
  // CIRCLE_PULL_REQUEST is the PR's URL; forked PRs also get CIRCLE_PR_NUMBER.
  return {
    provider: "circleci",
    pullRequest: val(env, "CIRCLE_PULL_REQUEST") !== undefined ||
      val(env, "CIRCLE_PR_NUMBER") !== undefined,
    runUrl: val(env, "CIRCLE_BUILD_URL"),
    commit: val(env, "CIRCLE_SHA1"),
    branch: val(env, "CIRCLE_BRANCH"),
  };
}

/**
 * Detects the CI service from its documented variables: `GITHUB_ACTIONS`, `GITLAB_CI`,
 * `BUILDKITE`, `JENKINS_URL`, `CIRCLECI`, else `CI` (`generic`). A service's own variable wins
 * over `CI=false`, which only turns off the generic detection.
 *
 * @example
 * ```ts
 * detectCi((n) => ({ GITHUB_ACTIONS: "true", GITHUB_EVENT_NAME: "pull_request" })[n]);
 * // { provider: "github", pullRequest: true }
 * detectCi(processEnv); // the running process
 * ```
 */
export function detectCi(env: EnvLookup = processEnv): CiEnv {
  if (on(env("GITHUB_ACTIONS"))) return clean(github(env));
  if (on(env("GITLAB_CI"))) return clean(gitlab(env));
  if (on(env("BUILDKITE"))) return clean(buildkite(env));
  if (val(env, "JENKINS_URL") !== undefined) return clean(jenkins(env));
  if (on(env("CIRCLECI"))) return clean(circleci(env));
  if (on(env("CI"))) return { provider: "generic", pullRequest: pullRequestBuild(env) !== null };
  return { provider: null, pullRequest: false };
}

/** True when running in any CI service (plain output, no live view). */
export function inCi(env: EnvLookup = processEnv): boolean {
  return detectCi(env).provider !== null;
}

/**
 * Why this looks like a pull-request (merge-request) build on a CI service, or `null`.
 *
 * @example
 * ```ts
 * pullRequestBuild((n) => ({ GITHUB_EVENT_NAME: "pull_request" })[n]);
 * // "GITHUB_EVENT_NAME=pull_request"
 * ```
 */
export function pullRequestBuild(env: (name: string) => string | undefined): string | null {
  const set = (n: string) => {
    const v = env(n);
    return v !== undefined && v !== "" && v !== "false" ? v : undefined;
  };
  const gh = env("GITHUB_EVENT_NAME");
  if (gh === "pull_request" || gh === "pull_request_target") return `GITHUB_EVENT_NAME=${gh}`;
  for (const n of ["CI_MERGE_REQUEST_IID", "BUILDKITE_PULL_REQUEST", "CIRCLE_PULL_REQUEST"]) {
    if (set(n)) return `${n}=${set(n)}`;
  }
  for (const n of ["TRAVIS_PULL_REQUEST", "BITBUCKET_PR_ID", "CHANGE_ID", "DRONE_PULL_REQUEST"]) {
    if (set(n)) return `${n}=${set(n)}`;
  }
  if (env("BUILD_REASON") === "PullRequest") return "BUILD_REASON=PullRequest"; // Azure
  const wp = env("CI_PIPELINE_EVENT"); // Woodpecker
  if (wp === "pull_request") return `CI_PIPELINE_EVENT=${wp}`;
  return null;
}
