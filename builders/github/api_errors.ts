/**
 * How the GitHub client (`api.ts`) words what went wrong: an Octokit error becomes a
 * {@link Failure} with a one-line message naming the call, the repository (and workflow), what
 * GitHub said, and the fix.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { type RepoRef, repoSlug } from "./repo.ts";

/** What a call was doing, for its error message. */
export interface Doing {
  readonly what: string;
  readonly repo: RepoRef;
  readonly workflow?: string;
  readonly ref?: string;
}

const FIX_TOKEN =
  "set GITHUB_TOKEN to a valid token with the Actions read and write permission on the repository (classic tokens: the repo and workflow scopes)";

function fixFor422(message: string, d: Doing): string {
  const wf = d.workflow ?? "the workflow";
  if (/no ref found/i.test(message)) {
    return `push branch "${d.ref}" to GitHub (git push origin ${d.ref})`;
  }
  if (/inputs?/i.test(message)) {
    return `make the workflow_dispatch inputs of "${wf}" on "${d.ref}" declare targets, keys, ref and request_id, and push it`;
  }
  if (/workflow_dispatch/i.test(message)) {
    return `add a workflow_dispatch trigger to "${wf}" on "${d.ref}" and push it`;
  }
  return `check branch "${d.ref}" and the workflow_dispatch inputs of "${wf}"`;
}

/** Turns what Octokit threw into a Failure; rethrows what is a bug. */
export function toFailure(e: unknown, d: Doing, baseUrl: string): Failure {
  const err = e as any;
  if (typeof err?.status !== "number" && err?.name !== "TimeoutError") throw e;
  const repo = repoSlug(d.repo);
  if (!err.response) {
    const timedOut = [err.name, err.cause?.name].some((n) =>
      n === "TimeoutError" || n === "AbortError"
    );
    const cause = timedOut ? "no answer in time" : String(err.message ?? "network error");
    return failure(
      "github-unreachable",
      `Cannot reach the GitHub API at "${baseUrl}" to ${d.what} on "${repo}" (${cause}): check GITHUB_API_URL and the network, or build locally with --builder local`,
    );
  }
  const status: number = err.status;
  const data = err.response.data;
  const said = typeof data === "object" && data && typeof data.message === "string"
    ? data.message.split("\n").filter((l: string) => l.trim()).join(" ")
    : String(err.message ?? "").split(" - ")[0];
  const head = `GitHub answered ${status} (${said}) to ${d.what} on "${repo}"`;
  switch (status) {
    case 401:
      return failure("github-auth", `${head}: ${FIX_TOKEN}`);
    case 403:
    case 429:
      if (err.response.headers?.["x-ratelimit-remaining"] === "0" || status === 429) {
        const reset = Number(err.response.headers?.["x-ratelimit-reset"]);
        const when = Number.isFinite(reset) && reset > 0
          ? ` after ${new Date(reset * 1000).toISOString().slice(11, 16)} UTC`
          : " later";
        return failure("github-rate-limited", `${head}: the rate limit is used up; retry${when}`);
      }
      return failure(
        "github-forbidden",
        `${head}: give the token in GITHUB_TOKEN the Actions read and write permission on "${repo}"`,
      );
    case 404:
      return failure(
        "github-not-found",
        d.workflow
          ? `${head}: check that KILN_GITHUB_REPOSITORY names the repository, that .github/workflows/${d.workflow} is on its default branch (or set KILN_GITHUB_WORKFLOW), and that GITHUB_TOKEN can see it`
          : `${head}: check KILN_GITHUB_REPOSITORY and that GITHUB_TOKEN can see the repository`,
      );
    case 409:
      return failure("github-conflict", `${head}: the run is already completed`);
    case 422:
      return failure("github-invalid-request", `${head}: ${fixFor422(said, d)}`);
    default:
      return failure(
        "github-error",
        `${head}: retry later${
          status >= 500 ? " (GitHub's side)" : ""
        }, or build locally with --builder local`,
      );
  }
}
