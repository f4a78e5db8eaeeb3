/**
 * What a cloud build would not see: local changes to files that enter the task keys but are not
 * in the commit GitHub Actions checks out (uncommitted edits, new untracked files, and commits
 * not pushed). The cloud build then computes other keys than the ones expected here, so kiln
 * says so before dispatching instead of waiting for a build of the wrong tree.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { globRegExps, isGlob } from "../../engine/glob.ts";
import { isWithin } from "../../engine/path.ts";
import { firstLine, git } from "./git.ts";
import type { GitRef } from "./repo.ts";

/**
 * Which files enter the keys: workspace-relative paths, folders or globs (`*`, `?`, `[..]`,
 * `{a,b}`, `**`, with the engine's rules: `*` and `**` skip dot names), absolute paths for files
 * outside the workspace; or a predicate over paths in the same form as a fingerprint's
 * (workspace-relative inside the workspace, absolute outside it).
 */
export type KeyPaths = readonly string[] | ((path: string) => boolean);

/** A local change the cloud build will not see. */
export interface KeyChange {
  /** Workspace-relative inside the workspace, else absolute. */
  readonly path: string;
  /**
   * `uncommitted`: edited, added to the index or deleted, not committed; `untracked`: a new file
   * git does not track; `unpushed`: changed by local commits after the cloud build's commit.
   */
  readonly kind: "uncommitted" | "untracked" | "unpushed";
}

/** The local changes entering the keys, and the commit the cloud build will use instead. */
export interface TreeState {
  /** The commit the cloud build checks out (`GitRef.sha`). */
  readonly sha: string;
  readonly changes: readonly KeyChange[];
}

/**
 * A predicate for {@link KeyPaths} given as patterns: a plain path matches itself and, as a
 * folder, everything under it; a glob matches as the engine expands it.
 *
 * @example
 * ```ts
 * const m = keyPathMatcher(["src/**\/*.ts", "README.md", "packer/demo"]);
 * m("src/lib/a.ts"); // true
 * m("packer/demo/http/ks.cfg"); // true
 * ```
 */
export function keyPathMatcher(patterns: readonly string[]): (path: string) => boolean {
  const plain: string[] = [];
  const globs: RegExp[] = [];
  for (const p of patterns) {
    const q = p.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
    if (isGlob(q)) globs.push(...globRegExps(q));
    else plain.push(q);
  }
  return (path) => plain.some((p) => isWithin(path, p)) || globs.some((g) => g.test(path));
}

function splitZ(text: string): string[] {
  return text.split("\0").filter((s) => s !== "");
}

/**
 * The local changes under the git checkout of workspace `root` that enter the keys (per
 * `enters`) and that the cloud build, checking out `ref.sha`, will not have: from
 * `git status --porcelain` (uncommitted and untracked files) and `git diff <ref.sha> HEAD`
 * (commits not pushed). Ignored files are not reported (git never sees them).
 *
 * @example
 * ```ts
 * const ref = await resolveRef(root);
 * if ("reason" in ref) return ref;
 * const st = await treeState(root, ref, ["src/**", "kiln.yaml"]);
 * if (!("reason" in st) && st.changes.length) console.error(describeTreeState(st));
 * ```
 */
export async function treeState(
  root: string,
  ref: GitRef,
  enters: KeyPaths,
): Promise<TreeState | Failure> {
  const top = await git(root, ["rev-parse", "--show-toplevel"]);
  if (!top.ok) {
    return failure(
      "github-tree-unreadable",
      `Cannot read the git checkout at "${root}" (${
        firstLine(top.stderr)
      }): run kiln in a clone of the repository, or build locally with --builder local`,
    );
  }
  const toplevel = Deno.realPathSync(top.stdout.trim());
  const ws = Deno.realPathSync(root);
  const match = typeof enters === "function" ? enters : keyPathMatcher(enters);
  const form = (repoRel: string) => {
    const abs = `${toplevel}/${repoRel}`;
    return abs.startsWith(ws + "/") ? abs.slice(ws.length + 1) : abs;
  };
  // The NUL-separated names a git command prints, or why it failed.
  const names = async (what: string, args: string[]): Promise<string[] | Failure> => {
    const r = await git(toplevel, [...args, "-z", "--no-renames"]);
    if (r.ok) return splitZ(r.stdout);
    return failure(
      "github-tree-unreadable",
      `"${what}" failed in "${toplevel}" (${
        firstLine(r.stderr)
      }): fix the checkout, or build locally with --builder local`,
    );
  };
  const found = new Map<string, KeyChange["kind"]>();
  const status = await names("git status", [
    "status",
    "--porcelain=v1",
    "--untracked-files=all",
  ]);
  if (!Array.isArray(status)) return status;
  for (const entry of status) {
    const path = form(entry.slice(3));
    if (match(path)) found.set(path, entry.startsWith("??") ? "untracked" : "uncommitted");
  }
  if (ref.sha !== ref.head) {
    const diff = await names(`git diff ${ref.sha.slice(0, 12)} HEAD`, [
      "diff",
      "--name-only",
      ref.sha,
      ref.head,
    ]);
    if (!Array.isArray(diff)) return diff;
    for (const p of diff) {
      const path = form(p);
      if (!found.has(path) && match(path)) found.set(path, "unpushed");
    }
  }
  const changes = [...found].map(([path, kind]) => ({ path, kind }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { sha: ref.sha, changes };
}

/**
 * The warning the CLI prints before dispatching, naming at most `limit` paths.
 *
 * @example
 * ```ts
 * describeTreeState({ sha: "abc1234…", changes: [{ path: "src/a.ts", kind: "uncommitted" }] });
 * // The cloud build will use commit abc1234def56: these local changes enter the keys and are
 * // not pushed: src/a.ts (uncommitted); push them or build locally with --builder local
 * ```
 */
export function describeTreeState(state: TreeState, limit = 10): string {
  const shown = state.changes.slice(0, limit).map((c) => `${c.path} (${c.kind})`);
  const more = state.changes.length > limit ? ` and ${state.changes.length - limit} more` : "";
  return `The cloud build will use commit ${
    state.sha.slice(0, 12)
  }: these local changes enter the keys and are not pushed: ${
    shown.join(", ")
  }${more}; push them or build locally with --builder local`;
}
