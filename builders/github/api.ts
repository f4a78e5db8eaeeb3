/**
 * A thin client over GitHub's REST API (through `@octokit/rest`) for the calls a cloud build
 * makes: dispatch a workflow, find its run, follow it, cancel it. Every expected error (a bad
 * token, an unknown repository or workflow, a ref or inputs GitHub refuses, no network) becomes
 * a {@link Failure} whose one-line message names the repository or workflow and the fix.
 *
 * Import it lazily (`await import("./builders/github/mod.ts")`): Octokit costs start-up time
 * that a local build should not pay.
 *
 * @module
 */

import { Octokit } from "@octokit/rest";
import { type Failure, failure } from "../../engine/failure.ts";
import { type Doing, toFailure } from "./api_errors.ts";
import { type RepoRef, repoSlug } from "./repo.ts";

/** The REST API version kiln is written against (sent as `X-GitHub-Api-Version`). */
export const API_VERSION = "2022-11-28";

/** The part of a workflow run (GitHub's `workflow-run` object) kiln reads. */
export interface WorkflowRun {
  readonly id: number;
  /** The workflow's name. */
  readonly name: string | null;
  /** The run's title: the workflow's `run-name` (kiln puts its request id there). */
  readonly display_title: string;
  /** `queued`, `in_progress`, `completed` (also `waiting`, `requested`, `pending`). */
  readonly status: string | null;
  /** Once completed: `success`, `failure`, `cancelled`, `timed_out`, ... */
  readonly conclusion: string | null;
  readonly html_url: string;
  readonly head_sha: string;
  readonly head_branch: string | null;
  readonly event: string;
  readonly created_at: string;
  readonly run_number: number;
}

/** A step of a job, as the jobs endpoint lists it. */
export interface JobStep {
  readonly name: string;
  readonly status: string;
  readonly conclusion: string | null;
  readonly number: number;
}

/** The part of a workflow job kiln reads. */
export interface WorkflowJob {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly conclusion: string | null;
  readonly html_url: string | null;
  readonly steps: readonly JobStep[];
}

/** A workflow dispatch. */
export interface DispatchRequest {
  readonly repo: RepoRef;
  /** Workflow file name (`build-templates.yml`) or numeric id. */
  readonly workflow: string;
  /** The branch or tag the workflow runs on (GitHub accepts no commit sha here). */
  readonly ref: string;
  /** The workflow's `workflow_dispatch` inputs: at most 25, strings. */
  readonly inputs: Readonly<Record<string, string>>;
}

/**
 * What a dispatch answered. GitHub returns the run's id and URLs (200) when asked with
 * `return_run_details` and it supports it (github.com since February 2026); older servers answer
 * 204 with no body, and the run has to be found by listing runs.
 */
export interface Dispatched {
  readonly runId?: number;
  readonly url?: string;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the request; the call then returns a Failure `interrupted`. */
  readonly signal?: AbortSignal;
}

/** The calls a cloud build makes. Every method returns a {@link Failure} instead of throwing. */
export interface GitHubApi {
  /** The API root, e.g. `https://api.github.com`. */
  readonly baseUrl: string;
  /** `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`. */
  dispatch(req: DispatchRequest, o?: CallOptions): Promise<Dispatched | Failure>;
  /**
   * `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs?event=workflow_dispatch&created=>=…`:
   * the newest 100 dispatched runs created at or after `createdSince`, newest first.
   */
  listRuns(
    repo: RepoRef,
    workflow: string,
    createdSince: Date,
    o?: CallOptions,
  ): Promise<WorkflowRun[] | Failure>;
  /** `GET /repos/{owner}/{repo}/actions/runs/{run_id}`. */
  getRun(repo: RepoRef, runId: number, o?: CallOptions): Promise<WorkflowRun | Failure>;
  /** `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`: the latest attempt's jobs. */
  listJobs(repo: RepoRef, runId: number, o?: CallOptions): Promise<WorkflowJob[] | Failure>;
  /**
   * `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel`: `"requested"` (202), or
   * `"completed"` when the run had already finished (409).
   */
  cancelRun(
    repo: RepoRef,
    runId: number,
    o?: CallOptions,
  ): Promise<"requested" | "completed" | Failure>;
}

/** Where the client connects and with which token. */
export interface GitHubApiOptions {
  /** Default: `GITHUB_TOKEN`. */
  readonly token?: string;
  /** Default: `GITHUB_API_URL`, else `https://api.github.com`. */
  readonly baseUrl?: string;
  /** Env lookup (default `Deno.env.get`). */
  readonly env?: (name: string) => string | undefined;
  /** Each request's own time limit (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** A GitHub date for the `created` search qualifier: `2026-01-31T12:00:00Z`. */
function githubDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function toRun(r: any): WorkflowRun {
  return {
    id: Number(r.id),
    name: r.name ?? null,
    display_title: r.display_title ?? "",
    status: r.status ?? null,
    conclusion: r.conclusion ?? null,
    html_url: r.html_url,
    head_sha: r.head_sha,
    head_branch: r.head_branch ?? null,
    event: r.event,
    created_at: r.created_at,
    run_number: Number(r.run_number),
  };
}

function toJob(j: any): WorkflowJob {
  return {
    id: Number(j.id),
    name: j.name,
    status: j.status,
    conclusion: j.conclusion ?? null,
    html_url: j.html_url ?? null,
    steps: (j.steps ?? []).map((s: any) => ({
      name: s.name,
      status: s.status,
      conclusion: s.conclusion ?? null,
      number: Number(s.number),
    })),
  };
}

/**
 * A {@link GitHubApi} over Octokit, or a Failure `github-token-missing` when no token is set.
 *
 * @example
 * ```ts
 * const api = createGitHubApi(); // GITHUB_TOKEN, GITHUB_API_URL
 * if ("reason" in api) return api;
 * const d = await api.dispatch({
 *   repo: { owner: "acme", name: "kiln" }, workflow: "build-templates.yml", ref: "main",
 *   inputs: { targets: "image:demo:compress", keys: "{}", ref: sha, request_id: "k-1" },
 * });
 * ```
 */
export function createGitHubApi(o: GitHubApiOptions = {}): GitHubApi | Failure {
  const env = o.env ?? ((n: string) => Deno.env.get(n));
  const token = o.token ?? env("GITHUB_TOKEN");
  const baseUrl = (o.baseUrl ?? env("GITHUB_API_URL") ?? "https://api.github.com").replace(
    /\/+$/,
    "",
  );
  if (!token) {
    return failure(
      "github-token-missing",
      `GITHUB_TOKEN is not set: set it to a token with the Actions read and write permission (e.g. GITHUB_TOKEN=$(gh auth token)), or build locally with --builder local`,
    );
  }
  const quiet = () => {};
  const octokit = new Octokit({
    auth: token,
    baseUrl,
    userAgent: "kiln",
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  const timeoutMs = o.requestTimeoutMs ?? 30_000;
  const request = (signal?: AbortSignal) => ({
    headers: { "x-github-api-version": API_VERSION },
    request: {
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs),
    },
  });
  const call = async <T>(
    d: Doing,
    signal: AbortSignal | undefined,
    f: () => Promise<T>,
  ): Promise<T | Failure> => {
    try {
      return await f();
    } catch (e) {
      if (signal?.aborted) {
        return failure(
          "interrupted",
          `Interrupted while trying to ${d.what} on "${repoSlug(d.repo)}"`,
        );
      }
      return toFailure(e, d, baseUrl);
    }
  };

  return {
    baseUrl,

    async dispatch(req, c) {
      const d: Doing = {
        what: `dispatch workflow "${req.workflow}" (branch "${req.ref}")`,
        repo: req.repo,
        workflow: req.workflow,
        ref: req.ref,
      };
      const send = (details: boolean) =>
        octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
          owner: req.repo.owner,
          repo: req.repo.name,
          workflow_id: req.workflow,
          ref: req.ref,
          inputs: { ...req.inputs },
          ...(details ? { return_run_details: true } : {}),
          ...request(c?.signal),
        });
      let r = await call(d, c?.signal, () => send(true));
      // A server without run details may refuse the unknown key: dispatch the plain way.
      if (
        "reason" in r && r.reason === "github-invalid-request" &&
        /return_run_details/.test(r.message)
      ) {
        r = await call(d, c?.signal, () => send(false));
      }
      if ("reason" in r) return r;
      const data = r.status === 200 ? (r.data as any) : null;
      if (data && data.workflow_run_id !== undefined) {
        return { runId: Number(data.workflow_run_id), url: data.html_url };
      }
      return {};
    },

    listRuns(repo, workflow, createdSince, c) {
      const d = { what: `list the runs of workflow "${workflow}"`, repo, workflow };
      return call(d, c?.signal, async () => {
        const r = await octokit.request(
          "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
          {
            owner: repo.owner,
            repo: repo.name,
            workflow_id: workflow,
            event: "workflow_dispatch",
            created: `>=${githubDate(createdSince)}`,
            per_page: 100,
            exclude_pull_requests: true,
            ...request(c?.signal),
          },
        );
        return (r.data.workflow_runs ?? []).map(toRun);
      });
    },

    getRun(repo, runId, c) {
      return call({ what: `get run ${runId}`, repo }, c?.signal, async () => {
        const r = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", {
          owner: repo.owner,
          repo: repo.name,
          run_id: runId,
          exclude_pull_requests: true,
          ...request(c?.signal),
        });
        return toRun(r.data);
      });
    },

    listJobs(repo, runId, c) {
      return call({ what: `list the jobs of run ${runId}`, repo }, c?.signal, async () => {
        const r = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
          owner: repo.owner,
          repo: repo.name,
          run_id: runId,
          filter: "latest",
          per_page: 100,
          ...request(c?.signal),
        });
        return (r.data.jobs ?? []).map(toJob);
      });
    },

    async cancelRun(repo, runId, c) {
      const r = await call(
        { what: `cancel run ${runId}`, repo },
        c?.signal,
        () =>
          octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", {
            owner: repo.owner,
            repo: repo.name,
            run_id: runId,
            ...request(c?.signal),
          }),
      );
      if (!("reason" in r)) return "requested";
      // 409: "Cannot cancel a workflow run that is completed."
      return r.reason === "github-conflict" ? "completed" : r;
    },
  };
}
