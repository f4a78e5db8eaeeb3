/**
 * GitHub Actions as the hybrid builder's {@link CloudBuilder}: dispatches the build workflow for
 * the delegated targets and waits for the run (see `github/delegate.ts`). Octokit loads only
 * when a task is really delegated.
 *
 * Before dispatching it refuses to go on when local changes that enter the delegated tasks' keys
 * are not pushed: the cloud builds the pushed commit, so its results would not be what this
 * tree asks for, and storing them under this tree's keys would poison the cache.
 *
 * @module
 */

import type { Failure } from "../engine/failure.ts";
import { failure } from "../engine/failure.ts";
import type { Graph } from "../engine/graph.ts";
import { localModuleClosure } from "../engine/module_closure.ts";
import { selectTasks } from "../engine/graph.ts";
import type { CloudBuilder } from "./hybrid.ts";

/** How the GitHub builder is set up. */
export interface GitHubCloudOptions {
  readonly root: string;
  readonly graph: Graph;
  readonly env: (name: string) => string | undefined;
  /** How long to wait for a run (`--cloud-timeout`). */
  readonly timeoutMs?: number;
  /** A line of information: the run's URL once known. */
  readonly note: (message: string) => void;
}

/** True when GitHub delegation can be attempted: a token is set. */
export function gitHubConfigured(env: (name: string) => string | undefined): boolean {
  return !!env("GITHUB_TOKEN");
}

/**
 * The workspace paths that enter the keys of `targets` and everything they depend on: declared
 * inputs and the modules of TypeScript actions (workspace-relative, as `treeState` matches).
 */
export function keyPaths(graph: Graph, targets: readonly string[]): string[] {
  const out = new Set<string>();
  const modules = new Set<string>();
  const root = graph.root.replace(/\/+$/, "");
  for (const id of selectTasks(graph, targets)) {
    const t = graph.tasks.get(id)!;
    for (const p of t.inputs ?? []) out.add(p);
    // Many tasks share a module (every distro's steps): read each module's imports once.
    if (t.action.kind === "fn" && !modules.has(t.action.module)) {
      modules.add(t.action.module);
      for (const abs of localModuleClosure(new URL(t.action.module).pathname)) {
        out.add(abs.startsWith(root + "/") ? abs.slice(root.length + 1) : abs);
      }
    }
  }
  return [...out].sort();
}

/** The GitHub Actions cloud builder. */
export function gitHubCloud(o: GitHubCloudOptions): CloudBuilder {
  return {
    name: "GitHub Actions",
    async build(targets, keys, signal, progress): Promise<{ url: string } | Failure> {
      const gh = await import("./github/mod.ts");
      const env = o.env;
      const repo = await gh.resolveRepository(o.root, env);
      if ("reason" in repo) return repo;
      const workflow = gh.resolveWorkflow(env);
      if (typeof workflow !== "string") return workflow;
      const ref = await gh.resolveRef(o.root);
      if ("reason" in ref) return ref;
      const api = gh.createGitHubApi({ env });
      if ("reason" in api) return api;
      const tree = await gh.treeState(o.root, ref, keyPaths(o.graph, targets));
      if ("reason" in tree) return tree;
      if (tree.changes.length) {
        return failure("delegation-tree-dirty", gh.describeTreeState(tree));
      }
      let shown = false;
      const r = await gh.delegateBuild({
        api,
        repo,
        workflow,
        ref: ref.remoteBranch,
        sha: ref.sha,
        targets,
        keys,
        signal,
        timeoutMs: o.timeoutMs,
        onProgress: (p) => {
          if (p.url && !shown) {
            shown = true;
            o.note(`Run ${p.url}`);
          }
          progress(p.text);
        },
      });
      return "reason" in r ? r : { url: r.url };
    },
  };
}
