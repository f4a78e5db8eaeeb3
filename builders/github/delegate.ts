/**
 * Delegating a build to GitHub Actions: dispatch the build workflow with the targets and the
 * keys kiln expects, find the run it started, follow it to the end and say how it ended. Pulling
 * the outputs is not done here: when the run succeeds, its tasks are in the remote cache under
 * the expected keys, and the engine restores them by key.
 *
 * @module
 */

import { abortableSleep } from "../../engine/retry.ts";
import { type Failure, failure } from "../../engine/failure.ts";
import type { GitHubApi, WorkflowJob, WorkflowRun } from "./api.ts";
import { type RepoRef, repoSlug } from "./repo.ts";

/** What the run is doing, for the live view. */
export interface DelegateProgress {
  /** `dispatched` until the run is found, then the run's status. */
  readonly phase: "dispatched" | "queued" | "in_progress" | "completed";
  readonly runId?: number;
  readonly url?: string;
  /** The running job and step, when the jobs endpoint names them. */
  readonly job?: string;
  readonly step?: string;
  /** One line: `in progress: dispatch › Build (https://github.com/…/runs/1)`. */
  readonly text: string;
}

/** What to dispatch and how to wait for it. */
export interface DelegateOptions {
  readonly api: GitHubApi;
  readonly repo: RepoRef;
  /** Workflow file name (`build-templates.yml`) or id. */
  readonly workflow: string;
  /** The branch to dispatch on (`GitRef.remoteBranch`): GitHub runs the workflow file there. */
  readonly ref: string;
  /** The commit to build (`GitRef.sha`), passed as the `ref` input. */
  readonly sha: string;
  /** Task ids to build, passed space-separated as the `targets` input. */
  readonly targets: readonly string[];
  /** Task id -> the key kiln expects, passed as JSON in the `keys` input. */
  readonly keys: Readonly<Record<string, string>>;
  /** Goes into the run's title so the run can be found; default {@link newRequestId}(). */
  readonly requestId?: string;
  /** Ctrl-C: cancels the run and ends with `delegation-interrupted`. */
  readonly signal?: AbortSignal;
  /** How long to wait for the run to finish, from the dispatch (default {@link DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** First interval between polls (default 3 s); it grows while nothing changes. */
  readonly pollMs?: number;
  /** Longest interval between polls (default 30 s). */
  readonly maxPollMs?: number;
  /** How long a run may take to appear after a dispatch that did not return it (default 2 min). */
  readonly findTimeoutMs?: number;
  /** How the user raises the timeout, for its message (default `--cloud-timeout`). */
  readonly timeoutOption?: string;
  readonly onProgress?: (p: DelegateProgress) => void;
}

/** A run that succeeded: its tasks' outputs are in the remote cache under the expected keys. */
export interface DelegateResult {
  readonly runId: number;
  readonly url: string;
  readonly requestId: string;
}

/** A failed, interrupted or timed-out delegation, with the run when one was found. */
export interface DelegationFailure extends Failure {
  readonly runId?: number;
  readonly url?: string;
  /** The job and step that failed (`delegation-failed`). */
  readonly job?: string;
  readonly step?: string;
}

/**
 * How long kiln waits for a cloud build by default: 4 h 30 min, the build workflow's job limit
 * (`timeout-minutes: 240`) plus time in the queue.
 */
export const DEFAULT_TIMEOUT_MS = 270 * 60_000;

/** A fresh id for a dispatch: `k` and 16 hex digits. */
export function newRequestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "k" + [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The workflow_dispatch inputs of a delegation (what `.github/workflows/build-templates.yml`
 * declares): `targets` space-separated, `keys` as JSON, `ref` the commit, `request_id`.
 */
export function dispatchInputs(
  o: Pick<DelegateOptions, "targets" | "keys" | "sha">,
  requestId: string,
): Record<string, string> {
  return {
    targets: o.targets.join(" "),
    keys: JSON.stringify(o.keys),
    ref: o.sha,
    request_id: requestId,
  };
}

/** The repository's Actions page, for messages when no run is known. */
export function actionsPage(apiBaseUrl: string, repo: RepoRef): string {
  const web = apiBaseUrl === "https://api.github.com"
    ? "https://github.com"
    : apiBaseUrl.replace(/\/api\/v3$/, "");
  return `${web}/${repoSlug(repo)}/actions`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

/** Failures worth retrying while polling: the network, GitHub's own errors, the rate limit. */
function transient(f: Failure): boolean {
  return ["github-unreachable", "github-error", "github-rate-limited"].includes(f.reason);
}

const MAX_TRANSIENT = 5;

/** The running job and step (or the first unfinished ones). */
function current(jobs: readonly WorkflowJob[]): { job?: string; step?: string } {
  const job = jobs.find((j) => j.status === "in_progress") ??
    jobs.find((j) => j.status !== "completed");
  if (!job) return {};
  const step = job.steps.find((s) => s.status === "in_progress") ??
    job.steps.find((s) => s.status !== "completed");
  return { job: job.name, step: step?.name };
}

/** The job and step that made the run fail. */
function culprit(jobs: readonly WorkflowJob[]): { job?: string; step?: string } {
  const bad = (c: string | null) =>
    c !== null && c !== "success" && c !== "skipped" && c !== "neutral";
  const job = jobs.find((j) => j.conclusion === "failure") ?? jobs.find((j) => bad(j.conclusion));
  if (!job) return {};
  const step = job.steps.find((s) => s.conclusion === "failure") ??
    job.steps.find((s) => bad(s.conclusion));
  return { job: job.name, step: step?.name };
}

/**
 * Dispatches the build workflow and waits for its run: `ok` with the run's id and URL when it
 * succeeds; otherwise a {@link DelegationFailure}: `delegation-failed` (the URL and the failed
 * job and step), `delegation-interrupted` (the signal aborted: the run is cancelled),
 * `delegation-timeout` (the run goes on), `delegation-run-not-found`, or the API's own
 * `github-*` failures (a bad token, an unknown workflow, a ref or inputs GitHub refused).
 *
 * @example
 * ```ts
 * const r = await delegateBuild({
 *   api, repo, workflow: "build-templates.yml", ref: gitRef.remoteBranch, sha: gitRef.sha,
 *   targets: ["image:demo:compress"], keys: { "image:demo:compress": "9f2c…" },
 *   signal, timeoutMs: 3_600_000, onProgress: (p) => reporter.taskProgress(id, p.text),
 * });
 * if ("reason" in r) return r; // then restore the targets from the remote cache by key
 * ```
 */
export async function delegateBuild(
  o: DelegateOptions,
): Promise<DelegateResult | DelegationFailure> {
  const { api, repo, signal } = o;
  const requestId = o.requestId ?? newRequestId();
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pollMs = o.pollMs ?? 3000;
  const maxPollMs = Math.max(pollMs, o.maxPollMs ?? 30_000);
  const start = Date.now();
  const deadline = start + timeoutMs;
  const progress = (p: Omit<DelegateProgress, "text">) => {
    const where = p.job ? `: ${p.job}${p.step ? ` › ${p.step}` : ""}` : "";
    const words = {
      dispatched: "dispatched",
      queued: "queued",
      in_progress: "in progress",
      completed: "completed",
    };
    const text = `${words[p.phase]}${where}${p.url ? ` (${p.url})` : ""}`;
    o.onProgress?.({ ...p, text });
  };
  const slug = repoSlug(repo);

  // Look back a few minutes: the local clock and GitHub's may disagree.
  const since = new Date(start - 5 * 60_000);
  const dispatched = await api.dispatch({
    repo,
    workflow: o.workflow,
    ref: o.ref,
    inputs: dispatchInputs(o, requestId),
  }, { signal });
  if ("reason" in dispatched) {
    if (!signal?.aborted) return dispatched;
    // The request may have reached GitHub before the abort: cancel a run it started.
    return await interrupted(o, await findRun(o, requestId, since));
  }
  progress({ phase: "dispatched", url: dispatched.url, runId: dispatched.runId });

  // Find the run.
  let runId = dispatched.runId;
  let url = dispatched.url;
  let errors = 0;
  const findUntil = Math.min(deadline, Date.now() + (o.findTimeoutMs ?? 120_000));
  while (runId === undefined) {
    if (signal?.aborted) return await interrupted(o, await findRun(o, requestId, since));
    const found = await findRun(o, requestId, since, signal);
    if (found && "reason" in found) {
      if (signal?.aborted) continue;
      if (!transient(found) || ++errors > MAX_TRANSIENT) return found;
    } else if (found) {
      runId = found.id;
      url = found.html_url;
      break;
    } else errors = 0;
    if (Date.now() >= findUntil) {
      return failure(
        Date.now() >= deadline ? "delegation-timeout" : "delegation-run-not-found",
        `Dispatched workflow "${o.workflow}" on "${slug}" (branch "${o.ref}") but no run titled with request id "${requestId}" appeared within ${
          duration(Date.now() - start)
        }: make the workflow's run-name include inputs.request_id, and look at ${
          actionsPage(api.baseUrl, repo)
        }`,
      );
    }
    await abortableSleep(Math.min(pollMs, findUntil - Date.now()), signal);
  }

  // Follow it.
  let interval = pollMs;
  let last = "";
  let run: WorkflowRun | null = null;
  errors = 0;
  for (;;) {
    if (signal?.aborted) return await interrupted(o, { id: runId, html_url: url ?? "" });
    const r = await api.getRun(repo, runId, { signal });
    if ("reason" in r) {
      if (signal?.aborted) continue;
      if (!transient(r) || ++errors > MAX_TRANSIENT) return { ...r, runId, url };
    } else {
      errors = 0;
      run = r;
      url = r.html_url;
      if (r.status === "completed") break;
      let where: { job?: string; step?: string } = {};
      if (r.status === "in_progress") {
        const jobs = await api.listJobs(repo, runId, { signal });
        if (!("reason" in jobs)) where = current(jobs);
      }
      const phase = r.status === "in_progress" ? "in_progress" : "queued";
      const now = JSON.stringify([phase, where.job, where.step]);
      if (now !== last) {
        last = now;
        interval = pollMs;
        progress({ phase, runId, url, ...where });
      } else interval = Math.min(maxPollMs, Math.round(interval * 1.5));
    }
    if (Date.now() >= deadline) {
      return {
        ...failure(
          "delegation-timeout",
          `Cloud build run ${runId} did not finish within ${
            duration(timeoutMs)
          } (${url}): it goes on and fills the remote cache; raise the limit with ${
            o.timeoutOption ?? "--cloud-timeout"
          }, or build again later to restore its outputs`,
        ),
        runId,
        url,
      };
    }
    await abortableSleep(Math.min(interval, deadline - Date.now()), signal);
  }

  progress({ phase: "completed", runId, url });
  if (run.conclusion === "success") return { runId, url: run.html_url, requestId };
  const jobs = await api.listJobs(repo, runId);
  const { job, step } = "reason" in jobs ? {} : culprit(jobs);
  const where = job ? ` in job "${job}"${step ? `, step "${step}"` : ""}` : "";
  const how = run.conclusion === "cancelled"
    ? "was cancelled"
    : run.conclusion === "timed_out"
    ? "timed out on GitHub"
    : run.conclusion === "failure"
    ? "failed"
    : `ended with "${run.conclusion}"`;
  return {
    ...failure(
      "delegation-failed",
      `Cloud build run ${runId} ${how}${where} (${run.html_url}): open the run for its log, or build locally with --builder local`,
    ),
    runId,
    url: run.html_url,
    job,
    step,
  };
}

/** The dispatched run carrying `requestId`, `null` while none is listed. */
async function findRun(
  o: DelegateOptions,
  requestId: string,
  since: Date,
  signal?: AbortSignal,
): Promise<WorkflowRun | Failure | null> {
  const runs = await o.api.listRuns(o.repo, o.workflow, since, { signal });
  if ("reason" in runs) return runs;
  return runs.find((r) =>
    r.display_title.includes(requestId) || (r.name ?? "").includes(requestId)
  ) ??
    null;
}

/** Cancels the run (when one is known) after Ctrl-C. */
async function interrupted(
  o: DelegateOptions,
  run: Pick<WorkflowRun, "id" | "html_url"> | Failure | null,
): Promise<DelegationFailure> {
  if (run === null || "reason" in run) {
    return failure(
      "delegation-interrupted",
      `Interrupted before the cloud build's run was found: if one starts, cancel it at ${
        actionsPage(o.api.baseUrl, o.repo)
      }`,
    );
  }
  const c = await o.api.cancelRun(o.repo, run.id);
  const base = { runId: run.id, url: run.html_url };
  if (typeof c === "object") {
    return {
      ...failure(
        "delegation-interrupted",
        `Interrupted, but cancelling cloud build run ${run.id} failed (${c.message}): cancel it at ${run.html_url}`,
      ),
      ...base,
    };
  }
  return {
    ...failure(
      "delegation-interrupted",
      c === "completed"
        ? `Interrupted; cloud build run ${run.id} had already finished (${run.html_url})`
        : `Interrupted: cancelled cloud build run ${run.id} (${run.html_url})`,
    ),
    ...base,
  };
}
