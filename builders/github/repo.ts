/**
 * Where a cloud build runs: the GitHub repository, the workflow file, and the branch and commit
 * GitHub Actions checks out. All of it is read from the environment and from git, without the
 * network: a cloud build can only use what has been pushed, and this module says what that is.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { firstLine, git } from "./git.ts";

/** A GitHub repository, `owner/name`. */
export interface RepoRef {
  readonly owner: string;
  readonly name: string;
}

/** `owner/name`, as GitHub and error messages spell it. */
export function repoSlug(r: RepoRef): string {
  return `${r.owner}/${r.name}`;
}

/** The workflow kiln dispatches unless `KILN_GITHUB_WORKFLOW` names another. */
export const DEFAULT_WORKFLOW = "build-templates.yml";

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Parses `owner/name` (as in `GITHUB_REPOSITORY`); `null` when it is not one.
 *
 * @example
 * ```ts
 * parseRepoSlug("acme/kiln"); // { owner: "acme", name: "kiln" }
 * ```
 */
export function parseRepoSlug(text: string): RepoRef | null {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(text.trim());
  if (!m || !OWNER.test(m[1]) || !NAME.test(m[2]) || m[2] === "." || m[2] === "..") return null;
  return { owner: m[1], name: m[2] };
}

/**
 * The repository a git remote URL points at, in its https, ssh (`ssh://git@host/o/r.git`) and
 * scp-like (`git@host:o/r.git`) forms, on github.com or a GitHub Enterprise host. A local path or
 * `file:` URL is not a GitHub repository: `null`.
 *
 * @example
 * ```ts
 * parseRemoteUrl("git@github.com:acme/kiln.git"); // { owner: "acme", name: "kiln" }
 * ```
 */
export function parseRemoteUrl(url: string): RepoRef | null {
  const u = url.trim();
  let path: string | null = null;
  const scheme = /^(?:https?|ssh|git|git\+ssh|ssh\+git):\/\/(?:[^@/]+@)?[^/:]+(?::\d+)?\/(.+)$/i
    .exec(u);
  if (scheme) path = scheme[1];
  else {
    const scp = /^(?:[^@/:\s]+@)?([^/:\s]+):(?!\/)(.+)$/.exec(u);
    if (scp && scp[1].includes(".")) path = scp[2]; // a host name, not a Windows drive
  }
  if (path === null) return null;
  const parts = path.replace(/\/+$/, "").replace(/\.git$/, "").split("/").filter(Boolean);
  if (parts.length < 2) return null;
  return parseRepoSlug(`${parts[parts.length - 2]}/${parts[parts.length - 1]}`);
}

type Env = (name: string) => string | undefined;
const processEnv: Env = (n) => Deno.env.get(n);

/**
 * The repository to dispatch the build in: `KILN_GITHUB_REPOSITORY`, else `GITHUB_REPOSITORY`
 * (set inside GitHub Actions), else the `origin` remote of the checkout at `cwd`.
 */
export async function resolveRepository(
  cwd: string,
  env: Env = processEnv,
): Promise<RepoRef | Failure> {
  for (const name of ["KILN_GITHUB_REPOSITORY", "GITHUB_REPOSITORY"]) {
    const v = env(name);
    if (v === undefined || v === "") continue;
    return parseRepoSlug(v) ?? failure(
      "github-repo-unknown",
      `${name} is "${v}", not owner/name: set it like "acme/kiln"`,
    );
  }
  const r = await git(cwd, ["remote", "get-url", "origin"]);
  if (!r.ok) {
    return failure(
      "github-repo-unknown",
      `Cannot tell which GitHub repository to build in: "git remote get-url origin" failed in "${cwd}" (${
        firstLine(r.stderr)
      }): set KILN_GITHUB_REPOSITORY=owner/name`,
    );
  }
  const url = r.stdout.trim();
  return parseRemoteUrl(url) ?? failure(
    "github-repo-unknown",
    `Remote "origin" ("${url}") is not a GitHub repository URL: set KILN_GITHUB_REPOSITORY=owner/name`,
  );
}

/**
 * The workflow to dispatch: `KILN_GITHUB_WORKFLOW` (a file name in `.github/workflows/`, or a
 * numeric workflow id), else {@link DEFAULT_WORKFLOW}.
 */
export function resolveWorkflow(env: Env = processEnv): string | Failure {
  const v = env("KILN_GITHUB_WORKFLOW");
  if (v === undefined || v === "") return DEFAULT_WORKFLOW;
  const name = v.replace(/^\.github\/workflows\//, "");
  if (/^\d+$/.test(name) || /^[^/\s]+\.ya?ml$/.test(name)) return name;
  return failure(
    "github-workflow-invalid",
    `KILN_GITHUB_WORKFLOW is "${v}", not a workflow file name: set it like "${DEFAULT_WORKFLOW}"`,
  );
}

/** The branch a cloud build is dispatched on and the commit it builds. */
export interface GitRef {
  /** The local branch checked out. */
  readonly branch: string;
  /** The remote its upstream is on (`origin`). */
  readonly remote: string;
  /** The branch's name on that remote: the `ref` of the dispatch. */
  readonly remoteBranch: string;
  /** `<remote>/<remoteBranch>`, the remote-tracking branch consulted (as last fetched). */
  readonly tracking: string;
  /** The local HEAD commit. */
  readonly head: string;
  /**
   * The commit the cloud build checks out: `head` when it has been pushed, else the newest
   * pushed commit it descends from (its merge base with the tracking branch).
   */
  readonly sha: string;
  /** True when `head` is on the remote (in the tracking branch or another remote branch). */
  readonly pushed: boolean;
}

async function gitLine(cwd: string, args: string[]): Promise<string | null> {
  const r = await git(cwd, args);
  return r.ok && r.stdout.trim() !== "" ? r.stdout.trim() : null;
}

/**
 * The branch and commit of the checkout at `cwd` as GitHub sees them. Only remote-tracking
 * branches are consulted (no fetch): run `git fetch` first if the remote may have moved.
 * Fails when HEAD is detached or its branch was never pushed.
 *
 * @example
 * ```ts
 * const ref = await resolveRef(".");
 * if (!("reason" in ref) && !ref.pushed) console.log(`The cloud build will use ${ref.sha}`);
 * ```
 */
export async function resolveRef(cwd: string): Promise<GitRef | Failure> {
  const head = await gitLine(cwd, ["rev-parse", "--verify", "-q", "HEAD^{commit}"]);
  if (head === null) {
    const r = await git(cwd, ["rev-parse", "HEAD"]);
    return failure(
      "github-no-commit",
      `Cannot read the current commit in "${cwd}" (${
        firstLine(r.stderr) || "no commit yet"
      }): run kiln in a git checkout with a pushed commit, or build locally with --builder local`,
    );
  }
  const branch = await gitLine(cwd, ["symbolic-ref", "--short", "-q", "HEAD"]);
  if (branch === null) {
    return failure(
      "github-detached-head",
      `HEAD is detached at ${
        head.slice(0, 12)
      }: switch to a pushed branch (git switch <branch>) so the cloud build can be dispatched on it, or build locally with --builder local`,
    );
  }
  let remote = await gitLine(cwd, ["config", "--get", `branch.${branch}.remote`]);
  const merge = await gitLine(cwd, ["config", "--get", `branch.${branch}.merge`]);
  let remoteBranch = merge?.replace(/^refs\/heads\//, "") ?? null;
  let tracking: string | null = null;
  if (remote && remote !== "." && remoteBranch) {
    tracking = `${remote}/${remoteBranch}`;
    if (await gitLine(cwd, ["rev-parse", "--verify", "-q", `refs/remotes/${tracking}`]) === null) {
      tracking = null;
    }
  }
  if (tracking === null) {
    remote = "origin";
    remoteBranch = branch;
    const t = `${remote}/${branch}`;
    if (await gitLine(cwd, ["rev-parse", "--verify", "-q", `refs/remotes/${t}`]) !== null) {
      tracking = t;
    }
  }
  if (tracking === null || remote === null || remoteBranch === null) {
    return failure(
      "github-branch-not-pushed",
      `Branch "${branch}" is not on "origin": push it (git push -u origin ${branch}) so the cloud build can check it out, or build locally with --builder local`,
    );
  }
  const contained = await git(cwd, [
    "merge-base",
    "--is-ancestor",
    head,
    `refs/remotes/${tracking}`,
  ]);
  let pushed = contained.ok;
  if (!pushed) {
    const on = await git(cwd, ["branch", "-r", "--contains", head]);
    pushed = on.ok &&
      on.stdout.split("\n").some((l) => l.trim().startsWith(`${remote}/`));
  }
  let sha = head;
  if (!pushed) {
    const base = await gitLine(cwd, ["merge-base", head, `refs/remotes/${tracking}`]);
    if (base === null) {
      return failure(
        "github-branch-not-pushed",
        `Branch "${branch}" shares no commit with "${tracking}": push it (git push ${remote} ${branch}) or build locally with --builder local`,
      );
    }
    sha = base;
  }
  return { branch, remote, remoteBranch, tracking, head, sha, pushed };
}
