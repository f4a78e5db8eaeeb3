/**
 * Publishing one generated file into a git repository (a Homebrew tap, a Scoop bucket): bring the
 * local clone up to date with the remote, write the file, commit it alone when its bytes changed,
 * and push when a remote is configured.
 *
 * Real `git`, with everything it needs given explicitly: the author and committer come from the
 * options, the spec or `GIT_AUTHOR_*` (else a fixed default), so commits never depend on a global
 * `user.name`; the branch is named, never taken from `init.defaultBranch`; nothing prompts. The
 * global git config is still read, so credential helpers and SSH settings for the push keep
 * working. A commit whose push failed is pushed by the next run, even when the file is unchanged.
 *
 * @module
 */

import { join } from "node:path";
import { type Failure, failure } from "../engine/failure.ts";
import type { GitIdentity, RepoSpec } from "./spec_schema.ts";

/** Options for {@link publishFile}. */
export interface PublishOptions {
  /** Environment git runs with (default: this process's). `GIT_DIR` and friends are dropped. */
  readonly env?: Readonly<Record<string, string>>;
  /** Author and committer; overrides the repository spec's `author`. */
  readonly author?: GitIdentity;
}

/** What a publish did. */
export interface PublishResult {
  /** The local clone. */
  readonly repo: string;
  /** The file written, relative to the clone. */
  readonly file: string;
  /** A commit was made (false: the file was already as generated). */
  readonly committed: boolean;
  /** Commits were pushed to the remote. */
  readonly pushed: boolean;
  /** The commit message, when a commit was made. */
  readonly message: string | null;
  /** The clone's HEAD afterwards. */
  readonly head: string | null;
}

/** The identity commits get when nothing else names one. */
export const DEFAULT_IDENTITY: GitIdentity = { name: "kiln", email: "kiln@localhost" };

interface GitResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

type Git = (args: string[], cwd: string) => Promise<GitResult>;

/** The identity and the git runner of a publish. */
function makeGit(repo: RepoSpec, opts: PublishOptions): Git {
  const base = { ...(opts.env ?? Deno.env.toObject()) };
  for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"]) {
    delete base[k];
  }
  const fromEnv = base.GIT_AUTHOR_NAME && base.GIT_AUTHOR_EMAIL
    ? { name: base.GIT_AUTHOR_NAME, email: base.GIT_AUTHOR_EMAIL }
    : undefined;
  const who = opts.author ?? repo.author ?? fromEnv ?? DEFAULT_IDENTITY;
  const env = {
    ...base,
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_COMMITTER_NAME: who.name,
    GIT_COMMITTER_EMAIL: who.email,
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C",
  };
  const config = [
    `init.defaultBranch=${repo.branch}`,
    "commit.gpgsign=false",
    "core.autocrlf=false",
    "advice.detachedHead=false",
  ].flatMap((c) => ["-c", c]);
  return async (args, cwd) => {
    const out = await new Deno.Command("git", {
      args: [...config, ...args],
      cwd,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      stdout: dec.decode(out.stdout).trim(),
      stderr: dec.decode(out.stderr),
    };
  };
}

/** The line of git's stderr that says what went wrong. */
function gitSays(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.find((l) => /\[(remote )?rejected\]/.test(l)) ??
    lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? "no message";
  return line.replace(/^(fatal|error):\s*/, "");
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** Makes `path` a clone on `branch`, or says why it cannot be one. */
async function prepare(git: Git, repo: RepoSpec): Promise<Failure | null> {
  const path = repo.path;
  let stat: Deno.FileInfo | null = null;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const notRepo = (why: string) =>
    failure(
      "tap-not-a-repo",
      `Repository folder ${JSON.stringify(path)} ${why}; point it at a clone or an empty folder`,
    );
  if (stat && !stat.isDirectory) return notRepo("is a file");
  if (!stat || await isEmptyDir(path)) {
    await Deno.mkdir(path, { recursive: true });
    const init = await git(["init", "-q", "-b", repo.branch], path);
    if (!init.ok) return notRepo(`cannot be made a repository (${gitSays(init.stderr)})`);
  } else {
    // A folder inside another repository is not a clone of its own.
    const top = await git(["rev-parse", "--show-toplevel"], path);
    if (!top.ok || await Deno.realPath(top.stdout) !== await Deno.realPath(path)) {
      return notRepo("holds files but is not the top of a git repository");
    }
  }
  const head = await git(["symbolic-ref", "-q", "--short", "HEAD"], path);
  if (head.stdout !== repo.branch) {
    return failure(
      "tap-wrong-branch",
      `Repository ${JSON.stringify(path)} is on ${
        head.stdout ? `branch ${JSON.stringify(head.stdout)}` : "a detached HEAD"
      }, not ${JSON.stringify(repo.branch)}; switch to it or set branch`,
    );
  }
  return null;
}

/** Fast-forwards the clone to the remote branch; returns the remote's head (null: no branch). */
async function sync(git: Git, repo: RepoSpec, remote: string): Promise<string | null | Failure> {
  const ref = `refs/heads/${repo.branch}`;
  const ls = await git(["ls-remote", "--", remote, ref], repo.path);
  const unreachable = (r: GitResult) =>
    failure(
      "tap-fetch-failed",
      `Cannot read ${JSON.stringify(remote)}: ${gitSays(r.stderr)}; check the remote and access`,
    );
  if (!ls.ok) return unreachable(ls);
  const remoteHead = ls.stdout.split(/\s/)[0] || null;
  if (remoteHead === null) return null;
  const fetch = await git(["fetch", "-q", "--", remote, ref], repo.path);
  if (!fetch.ok) return unreachable(fetch);
  const merge = await git(["merge", "-q", "--ff-only", "FETCH_HEAD"], repo.path);
  if (!merge.ok) {
    return failure(
      "tap-diverged",
      `Repository ${JSON.stringify(repo.path)} cannot fast-forward to ${
        JSON.stringify(remote)
      } ${repo.branch}: ${gitSays(merge.stderr)}; rebase it on the remote or remove the folder`,
    );
  }
  return remoteHead;
}

/** Writes `text` to `path` through a temporary file, so no reader sees half of it. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const tmp = `${path}.kiln-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Writes `text` to `file` (relative) in the repository `repo`, committing it with
 * `message(isNew)` when its content changed and pushing to `repo.remote` (if any). The folder is
 * created and initialised when missing or empty (then filled from the remote). Failures:
 * `tool-missing`, `tap-not-a-repo`, `tap-wrong-branch`, `tap-fetch-failed`, `tap-diverged`,
 * `tap-commit-failed`, `tap-push-failed`.
 *
 * @example
 * ```ts
 * const r = await publishFile(spec.tap!, "Formula/kiln.rb", text, () => "kiln 1.2.3");
 * ```
 */
export async function publishFile(
  repo: RepoSpec,
  file: string,
  text: string,
  message: (isNew: boolean) => string,
  opts: PublishOptions = {},
): Promise<PublishResult | Failure> {
  const git = makeGit(repo, opts);
  try {
    await new Deno.Command("git", { args: ["--version"], stdout: "null", stderr: "null" }).output();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return failure("tool-missing", "git is not installed; install it (apt-get install git)");
  }
  const bad = await prepare(git, repo);
  if (bad) return bad;
  let remoteHead: string | null = null;
  if (repo.remote !== undefined) {
    const synced = await sync(git, repo, repo.remote);
    if (synced !== null && typeof synced === "object") return synced;
    remoteHead = synced;
  }
  const abs = join(repo.path, file);
  let before: string | null = null;
  try {
    before = await Deno.readTextFile(abs);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (before !== text) await writeAtomic(abs, text);
  const status = await git(["status", "--porcelain", "--", file], repo.path);
  let committed: string | null = null;
  if (status.stdout !== "") {
    const msg = message(before === null);
    const add = await git(["add", "--", file], repo.path);
    const commit = add.ok ? await git(["commit", "-q", "-m", msg, "--", file], repo.path) : add;
    if (!commit.ok) {
      return failure(
        "tap-commit-failed",
        `Cannot commit ${JSON.stringify(file)} in ${JSON.stringify(repo.path)}: ${
          gitSays(commit.stderr)
        }; fix the repository and rerun`,
      );
    }
    committed = msg;
  }
  const rev = await git(["rev-parse", "-q", "--verify", "HEAD"], repo.path);
  const head = rev.ok ? rev.stdout : null;
  let pushed = false;
  if (repo.remote !== undefined && head !== null && head !== remoteHead) {
    const push = await git(
      ["push", "-q", "--", repo.remote, `HEAD:refs/heads/${repo.branch}`],
      repo.path,
    );
    if (!push.ok) {
      return failure(
        "tap-push-failed",
        `Cannot push ${JSON.stringify(file)} to ${JSON.stringify(repo.remote)} ${repo.branch}: ${
          gitSays(push.stderr)
        }; the commit stays in ${JSON.stringify(repo.path)} and the next run pushes it`,
      );
    }
    pushed = true;
  }
  return { repo: repo.path, file, committed: committed !== null, pushed, message: committed, head };
}
