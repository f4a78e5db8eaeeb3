/**
 * The JSON the fake GitHub (`fake_github.ts`) answers with: GitHub's `workflow-run` and `job`
 * objects, error bodies, and the `created` search qualifier of the runs endpoints.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { RunState } from "./fake_github_runner.ts";

/** GitHub's documentation of the Actions endpoints, for error bodies. */
export const DOCS = "https://docs.github.com/rest/actions";
/** A GitHub timestamp: ISO 8601 in seconds. */
export const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** A JSON response with GitHub's headers. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "x-github-api-version-selected": "2022-11-28",
      ...headers,
    },
  });
}

/** GitHub's error body: `{ message, documentation_url, status }`. */
export function error(status: number, message: string, doc: string): Response {
  return json(status, { message, documentation_url: doc, status: String(status) });
}

/** A stable numeric id for a workflow file (GitHub's `workflow_id`). */
export function workflowId(slug: string, path: string): number {
  return parseInt(createHash("sha256").update(`${slug}:${path}`).digest("hex").slice(0, 7), 16);
}

/**
 * Parses the `created` qualifier (`>=2026-01-01T00:00:00Z`, `<2026-01-02`, `a..b`, `a..*`,
 * `2026-01-01`): a date alone means its whole day. Times compare in whole seconds, as GitHub
 * stores them. `null` when it is not one.
 */
export function createdFilter(q: string): ((d: Date) => boolean) | null {
  const t = (s: string) => (s === "*" ? NaN : Date.parse(s));
  const day = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);
  const sec = (d: Date) => Math.floor(+d / 1000) * 1000;
  /** [first instant, first instant after] of a bound. */
  const span = (s: string): [number, number] => {
    const v = t(s);
    return [v, day(s) ? v + 86_400_000 : v + 1000];
  };
  let m: RegExpExecArray | null;
  if ((m = /^(>=|<=|>|<)(.+)$/.exec(q))) {
    const [from, after] = span(m[2]);
    if (Number.isNaN(from)) return null;
    return {
      ">=": (d: Date) => sec(d) >= from,
      ">": (d: Date) => sec(d) >= after,
      "<=": (d: Date) => sec(d) < after,
      "<": (d: Date) => sec(d) < from,
    }[m[1]]!;
  }
  if ((m = /^(.+)\.\.(.+)$/.exec(q))) {
    const [a] = span(m[1]);
    const [, b] = span(m[2]);
    if ((m[1] !== "*" && Number.isNaN(a)) || (m[2] !== "*" && Number.isNaN(b))) return null;
    return (d) => (Number.isNaN(a) || sec(d) >= a) && (Number.isNaN(b) || sec(d) < b);
  }
  const [from, after] = span(q);
  if (Number.isNaN(from)) return null;
  return (d) => sec(d) >= from && sec(d) < after;
}

/** A run as `GET /repos/{owner}/{repo}/actions/runs/{run_id}` returns it. */
export function runJson(r: RunState, url: string) {
  const api = `${url}/repos/${r.owner}/${r.repo}`;
  const repository = {
    id: workflowId(`${r.owner}/${r.repo}`, ""),
    node_id: "R_fake",
    name: r.repo,
    full_name: `${r.owner}/${r.repo}`,
    owner: { login: r.owner, id: 1, type: "Organization" },
    private: true,
    html_url: `${url}/${r.owner}/${r.repo}`,
    url: api,
  };
  const actor = { login: "kiln-test", id: 2, type: "User" };
  return {
    id: r.id,
    name: r.spec.name,
    node_id: `WFR_${r.id}`,
    check_suite_id: r.id + 1,
    check_suite_node_id: `CS_${r.id}`,
    head_branch: r.headBranch,
    head_sha: r.headSha,
    path: r.workflowPath,
    display_title: r.displayTitle,
    run_number: r.runNumber,
    event: "workflow_dispatch",
    status: r.status,
    conclusion: r.conclusion,
    workflow_id: r.workflowId,
    url: `${api}/actions/runs/${r.id}`,
    html_url: `${url}/${r.owner}/${r.repo}/actions/runs/${r.id}`,
    pull_requests: [],
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    actor,
    triggering_actor: actor,
    run_attempt: 1,
    referenced_workflows: [],
    run_started_at: iso(r.startedAt ?? r.createdAt),
    jobs_url: `${api}/actions/runs/${r.id}/jobs`,
    logs_url: `${api}/actions/runs/${r.id}/logs`,
    check_suite_url: `${api}/check-suites/${r.id + 1}`,
    artifacts_url: `${api}/actions/runs/${r.id}/artifacts`,
    cancel_url: `${api}/actions/runs/${r.id}/cancel`,
    rerun_url: `${api}/actions/runs/${r.id}/rerun`,
    previous_attempt_url: null,
    workflow_url: `${api}/actions/workflows/${r.workflowId}`,
    head_commit: null,
    repository,
    head_repository: repository,
  };
}

/** The run's job as `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs` lists it. */
export function jobJson(r: RunState, url: string) {
  const j = r.job;
  const api = `${url}/repos/${r.owner}/${r.repo}`;
  return {
    id: j.id,
    run_id: r.id,
    workflow_name: r.spec.name,
    head_branch: r.headBranch,
    run_url: `${api}/actions/runs/${r.id}`,
    run_attempt: 1,
    node_id: `CR_${j.id}`,
    head_sha: r.headSha,
    url: `${api}/actions/jobs/${j.id}`,
    html_url: `${url}/${r.owner}/${r.repo}/actions/runs/${r.id}/job/${j.id}`,
    status: j.status,
    conclusion: j.conclusion,
    created_at: iso(r.createdAt),
    started_at: j.started_at,
    completed_at: j.completed_at,
    name: j.name,
    steps: j.steps.map(({ name, status, conclusion, number, started_at, completed_at }) => ({
      name,
      status,
      conclusion,
      number,
      started_at,
      completed_at,
    })),
    check_run_url: `${api}/check-runs/${j.id}`,
    labels: ["ubuntu-latest"],
    runner_id: r.job.status === "queued" ? null : 1,
    runner_name: r.job.status === "queued" ? null : "fake-runner",
    runner_group_id: r.job.status === "queued" ? null : 1,
    runner_group_name: r.job.status === "queued" ? null : "GitHub Actions",
  };
}
