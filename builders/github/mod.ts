/**
 * The GitHub Actions builder: runs a build in the repository's build workflow instead of here
 * (`--builder cloud`, or a VM task with no working virtualization), then lets the engine restore
 * the outputs from the remote cache by key.
 *
 * Load it lazily (`await import("./builders/github/mod.ts")`): it pulls in Octokit.
 *
 * @example
 * ```ts
 * const gh = await import("./builders/github/mod.ts");
 * const repo = await gh.resolveRepository(root);
 * const workflow = gh.resolveWorkflow();
 * const ref = await gh.resolveRef(root);
 * const api = gh.createGitHubApi();
 * // ...check each for a Failure, warn about gh.treeState(root, ref, inputs), then:
 * const r = await gh.delegateBuild({ api, repo, workflow, ref: ref.remoteBranch, sha: ref.sha,
 *   targets, keys, signal, timeoutMs });
 * ```
 *
 * @module
 */

export {
  API_VERSION,
  type CallOptions,
  createGitHubApi,
  type Dispatched,
  type DispatchRequest,
  type GitHubApi,
  type GitHubApiOptions,
  type JobStep,
  type WorkflowJob,
  type WorkflowRun,
} from "./api.ts";
export {
  actionsPage,
  DEFAULT_TIMEOUT_MS,
  delegateBuild,
  type DelegateOptions,
  type DelegateProgress,
  type DelegateResult,
  type DelegationFailure,
  dispatchInputs,
  newRequestId,
} from "./delegate.ts";
export {
  DEFAULT_WORKFLOW,
  type GitRef,
  parseRemoteUrl,
  parseRepoSlug,
  type RepoRef,
  repoSlug,
  resolveRef,
  resolveRepository,
  resolveWorkflow,
} from "./repo.ts";
export {
  describeTreeState,
  type KeyChange,
  keyPathMatcher,
  type KeyPaths,
  type TreeState,
  treeState,
} from "./tree_state.ts";
