/**
 * Running read-only git commands for the GitHub builder: which repository, branch and commit a
 * cloud build uses, and what local changes it would miss.
 *
 * @module
 */

/** What a git command printed and how it ended. */
export interface GitResult {
  readonly ok: boolean;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `git <args>` in `cwd`. Never takes the index lock (`GIT_OPTIONAL_LOCKS=0`): another git
 * or editor may be working in the same checkout while kiln looks at it, and `git status` would
 * otherwise refresh the index and race with it.
 *
 * @example
 * ```ts
 * const r = await git("/repo", ["rev-parse", "HEAD"]);
 * if (r.ok) console.log(r.stdout.trim());
 * ```
 */
export async function git(cwd: string, args: readonly string[]): Promise<GitResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("git", {
      args: [...args],
      cwd,
      env: { GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      let folder = true;
      try {
        folder = Deno.statSync(cwd).isDirectory;
      } catch {
        folder = false;
      }
      const why = folder ? "git is not installed (Debian: git)" : `folder "${cwd}" does not exist`;
      return { ok: false, code: 127, stdout: "", stderr: why };
    }
    throw e;
  }
  const dec = new TextDecoder();
  return {
    ok: out.success,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr).trim(),
  };
}

/** The first line of a git error, for a one-line failure message. */
export function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}
