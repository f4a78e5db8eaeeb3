/**
 * A git repository standing for one on GitHub, for tests of the cloud builder: a bare `origin`
 * under `test/.tmp/`, and a clone of it with an upstream branch, ready to edit, commit and push.
 * Git runs without the user's or the system's configuration.
 *
 * @example
 * ```ts
 * const g = await gitOrigin("tree-", { "src/a.txt": "a\n" });
 * await g.commitAndPush("edit", { "src/a.txt": "b\n" });
 * ```
 *
 * @module
 */

import { makeTmp, writeFiles } from "./workspace.ts";

/** A bare origin and a working clone. */
export interface GitOrigin {
  /** The test's folder (removed by the caller with `removeTree`). */
  readonly dir: string;
  /** The bare repository: what the fake GitHub serves and clones. */
  readonly origin: string;
  /** The working clone, on branch `main` tracking `origin/main`. */
  readonly work: string;
  /** Runs git (in the clone by default); throws when it fails. */
  git(args: string[], cwd?: string): Promise<string>;
  /** Writes `files` in the clone and commits them; returns the new HEAD. */
  commit(message: string, files: Record<string, string>): Promise<string>;
  /** {@link commit}, then pushes the branch. */
  commitAndPush(message: string, files: Record<string, string>): Promise<string>;
}

/** Creates a bare origin whose `main` holds `files` (first commit), and a clone of it. */
export async function gitOrigin(
  prefix: string,
  files: Record<string, string>,
): Promise<GitOrigin> {
  const dir = await makeTmp(prefix);
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Kiln Test",
    GIT_AUTHOR_EMAIL: "test@example.org",
    GIT_COMMITTER_NAME: "Kiln Test",
    GIT_COMMITTER_EMAIL: "test@example.org",
  };
  const work = `${dir}/work`;
  const git = async (args: string[], cwd = work): Promise<string> => {
    const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true, stdin: "null" })
      .output();
    const dec = new TextDecoder();
    if (!out.success) throw new Error(`git ${args.join(" ")}: ${dec.decode(out.stderr)}`);
    return dec.decode(out.stdout).trim();
  };
  const commit = async (message: string, more: Record<string, string>) => {
    writeFiles(work, more);
    await git(["add", "-A"]);
    await git(["commit", "-q", "--allow-empty", "-m", message]);
    return await git(["rev-parse", "HEAD"]);
  };
  await git(["init", "-q", "--bare", "-b", "main", `${dir}/origin.git`], dir);
  await git(["clone", "-q", `${dir}/origin.git`, work], dir);
  await git(["symbolic-ref", "HEAD", "refs/heads/main"]);
  await commit("first", files);
  await git(["push", "-q", "-u", "origin", "main"]);
  return {
    dir,
    origin: `${dir}/origin.git`,
    work,
    git,
    commit,
    async commitAndPush(message, more) {
      const sha = await commit(message, more);
      await git(["push", "-q", "origin", "HEAD"]);
      return sha;
    },
  };
}
