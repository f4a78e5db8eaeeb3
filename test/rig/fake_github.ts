/**
 * A loopback stand-in for GitHub's REST API, for tests of the cloud builder (GitHub cannot be
 * reached from the test machines). It implements, as GitHub's REST documentation specifies them
 * (paths, status codes, JSON field names, error bodies), the endpoints kiln calls:
 *
 * - `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches` (204; 200 with
 *   `workflow_run_id`, `run_url`, `html_url` when `return_run_details` is true; 404 for an
 *   unknown repository or workflow; 422 for an unknown ref, unexpected or missing inputs, or a
 *   workflow without a `workflow_dispatch` trigger),
 * - `GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs` and `.../actions/runs`
 *   (`total_count`, `workflow_runs`; filters `event`, `status`, `branch`, `head_sha`, `created`;
 *   `per_page`, `page` and a `Link` header),
 * - `GET /repos/{owner}/{repo}/actions/runs/{run_id}`, `.../runs/{run_id}/jobs`,
 * - `POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel` (202 `{}`; 409 once completed),
 *
 * with the token checked (`Authorization: Bearer <t>` or `token <t>`, else 401). Workflow files
 * are read from the test's git repository at the dispatched branch; runs are played by
 * `fake_github_runner.ts`. A run's `html_url` serves its log as text.
 *
 * @example
 * ```ts
 * await using gh = await startFakeGitHub({ token: "t", repos: { "acme/kiln": bareRepo } });
 * const api = createGitHubApi({ token: "t", baseUrl: gh.url });
 * ```
 *
 * @module
 */

import { makeTmp, removeTree } from "./workspace.ts";
import { parseWorkflow, resolveInputs, substitute } from "./fake_github_workflow.ts";
import {
  cancelRun,
  execute,
  githubContext,
  jobSteps,
  type RunState,
} from "./fake_github_runner.ts";

import {
  createdFilter,
  DOCS,
  error,
  iso,
  jobJson,
  json,
  runJson,
  workflowId,
} from "./fake_github_json.ts";

export type { JobState, RunState, StepState } from "./fake_github_runner.ts";

/** What the fake serves. */
export interface FakeGitHubOptions {
  /** The one token it accepts. */
  readonly token: string;
  /** `owner/name` -> a git repository on this machine (bare or not) standing for it on GitHub. */
  readonly repos: Readonly<Record<string, string>>;
  /** Env for the build step (e.g. `KILN_REMOTE_CACHE`, a fresh `KILN_CACHE_DIR`). */
  readonly env?: Readonly<Record<string, string>>;
  /** A new run is listed by the runs endpoints only after this delay (as on GitHub). */
  readonly listDelayMs?: number;
  /** A run stays queued this long. */
  readonly startDelayMs?: number;
  /**
   * How a dispatch treats `return_run_details`: `supported` (github.com since February 2026:
   * 200 with the run), `ignored` (204, as before), `rejected` (422, an unknown key).
   */
  readonly runDetails?: "supported" | "ignored" | "rejected";
  /** Time between SIGINT and SIGKILL when a run is cancelled (default 2 s). */
  readonly killGraceMs?: number;
}

/** A request the fake answered. */
export interface FakeRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly status: number;
  /** The parsed JSON body of a POST. */
  readonly body?: unknown;
}

/** A running fake. */
export interface FakeGitHub extends AsyncDisposable {
  /** The API root for `GITHUB_API_URL`, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request so far. */
  readonly requests: readonly FakeRequest[];
  /** Every run, oldest first (including ones not listed yet). */
  runs(): RunState[];
  run(id: number): RunState | undefined;
  /** Waits until run `id` exists and `cond` holds for it. */
  waitForRun(id: number, cond: (r: RunState) => boolean, timeoutMs?: number): Promise<RunState>;
  /** Cancels every unfinished run, waits for the runs to end, stops, removes its folder. */
  close(): Promise<void>;
}

async function git(repo: string, args: string[]): Promise<string | null> {
  const out = await new Deno.Command("git", { args: ["-C", repo, ...args], stdin: "null" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : null;
}

/**
 * Starts the fake on a free loopback port.
 *
 * @example
 * ```ts
 * await using gh = await startFakeGitHub({
 *   token: "t",
 *   repos: { "acme/kiln": `${dir}/origin.git` },
 *   env: { KILN_REMOTE_CACHE: nginx.url("cache/"), KILN_CACHE_DIR: `${dir}/ci-cache` },
 * });
 * ```
 */
export async function startFakeGitHub(o: FakeGitHubOptions): Promise<FakeGitHub> {
  const root = await makeTmp("fake-github-");
  const runs: RunState[] = [];
  const requests: FakeRequest[] = [];
  const bodies = new WeakMap<Request, unknown>();
  const repos = new Map(
    Object.entries(o.repos).map(([k, v]) => [k.toLowerCase(), v.replace(/^file:\/\//, "")]),
  );
  let nextRun = 1000, nextJob = 7000;
  let url = "";
  const runner = () => ({
    baseUrl: url,
    env: o.env ?? {},
    startDelayMs: o.startDelayMs ?? 0,
    killGraceMs: o.killGraceMs ?? 2000,
  });

  const repoOf = (owner: string, name: string) => {
    const source = repos.get(`${owner}/${name}`.toLowerCase());
    return source ? { owner, name, source, slug: `${owner}/${name}` } : null;
  };

  /** The workflow file `id` names (a file name, or the numeric id), on the default branch. */
  const findWorkflow = async (repo: { slug: string; source: string }, id: string) => {
    const list = await git(repo.source, ["ls-tree", "--name-only", "HEAD", ".github/workflows/"]);
    for (const path of (list ?? "").split("\n").filter(Boolean)) {
      const file = path.slice(path.lastIndexOf("/") + 1);
      if (file === id || String(workflowId(repo.slug, path)) === id) return { path, file };
    }
    return null;
  };

  const dispatch = async (
    repo: NonNullable<ReturnType<typeof repoOf>>,
    workflowIdText: string,
    req: Request,
  ): Promise<Response> => {
    const doc = `${DOCS}/workflows#create-a-workflow-dispatch-event`;
    const wf = await findWorkflow(repo, workflowIdText);
    if (!wf) return error(404, "Not Found", doc);
    let body: Record<string, unknown>;
    try {
      const parsed = JSON.parse(await req.text());
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
      body = parsed;
    } catch {
      return error(400, "Problems parsing JSON", doc);
    }
    bodies.set(req, body);
    const allowed = [
      "ref",
      "inputs",
      ...(o.runDetails === "rejected" ? [] : ["return_run_details"]),
    ];
    const extra = Object.keys(body).find((k) => !allowed.includes(k));
    if (extra) return error(422, `Invalid request.\n\n"${extra}" is not a permitted key.`, doc);
    if (typeof body.ref !== "string" || body.ref === "") {
      return error(422, `Invalid request.\n\n"ref" wasn't supplied.`, doc);
    }
    const inputs = body.inputs ?? {};
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
      return error(
        422,
        `Invalid request.\n\nFor 'properties/inputs', ${JSON.stringify(inputs)} is not an object.`,
        doc,
      );
    }
    if (Object.keys(inputs).length > 25) {
      return error(
        422,
        "Invalid request.\n\nNo more than 25 properties are allowed; " +
          `${Object.keys(inputs).length} were supplied.`,
        doc,
      );
    }
    const ref = body.ref.replace(/^refs\/(heads|tags)\//, "");
    const kind = body.ref.startsWith("refs/tags/")
      ? ["tags"]
      : body.ref.startsWith("refs/heads/")
      ? ["heads"]
      : ["heads", "tags"];
    let sha: string | null = null;
    for (const k of kind) {
      sha ??= (await git(repo.source, ["rev-parse", "--verify", "-q", `refs/${k}/${ref}^{commit}`]))
        ?.trim() || null;
    }
    if (!sha) return error(422, `No ref found for: ${body.ref}`, doc);
    const text = await git(repo.source, ["show", `${sha}:${wf.path}`]);
    const spec = text === null ? "missing" : parseWorkflow(text, wf.path);
    if (typeof spec === "string") {
      return error(
        422,
        text === null
          ? "Workflow does not have 'workflow_dispatch' trigger"
          : `Invalid workflow file: ${spec}`,
        doc,
      );
    }
    if (!spec.dispatchInputs) {
      return error(422, "Workflow does not have 'workflow_dispatch' trigger", doc);
    }
    const resolved = resolveInputs(spec.dispatchInputs, inputs as Record<string, unknown>);
    if (typeof resolved === "string") return error(422, resolved, doc);
    const id = nextRun++;
    const now = new Date();
    const jobSpec = spec.jobs.find((j) => j.key === "dispatch");
    const run: RunState = {
      id,
      runNumber: runs.filter((r) => r.workflowPath === wf.path && r.owner === repo.owner).length +
        1,
      owner: repo.owner,
      repo: repo.name,
      source: repo.source,
      workflowPath: wf.path,
      workflowId: workflowId(repo.slug, wf.path),
      spec,
      displayTitle: spec.name,
      headBranch: ref,
      headSha: sha,
      inputs: resolved,
      checkout: typeof resolved.ref === "string" && resolved.ref !== "" ? resolved.ref : sha,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      visibleAt: Date.now() + (o.listDelayMs ?? 0),
      status: "queued",
      conclusion: null,
      job: {
        id: nextJob++,
        key: "dispatch",
        name: jobSpec?.name ?? "dispatch",
        status: "queued",
        conclusion: null,
        started_at: iso(now),
        completed_at: null,
        steps: jobSteps(jobSpec),
      },
      log: "",
      dir: `${root}/run-${id}`,
      cancel: new AbortController(),
      pid: null,
    };
    if (spec.runName) {
      try {
        (run as { displayTitle: string }).displayTitle = substitute(spec.runName, {
          inputs: resolved,
          github: githubContext(run, url),
        });
      } catch (e) {
        return error(422, `Invalid workflow file: run-name: ${(e as Error).message}`, doc);
      }
    }
    Deno.mkdirSync(run.dir, { recursive: true });
    runs.push(run);
    run.done = execute(run, runner());
    if (body.return_run_details === true && (o.runDetails ?? "supported") === "supported") {
      return json(200, {
        workflow_run_id: id,
        run_url: `${url}/repos/${repo.slug}/actions/runs/${id}`,
        html_url: `${url}/${repo.slug}/actions/runs/${id}`,
      });
    }
    return json(204, null);
  };

  const listRuns = (
    repo: { owner: string; name: string },
    wfPath: string | null,
    q: URLSearchParams,
    reqUrl: URL,
  ) => {
    const doc = `${DOCS}/workflow-runs#list-workflow-runs-for-a-repository`;
    const created = q.get("created");
    const when = created ? createdFilter(created) : () => true;
    if (!when) return error(422, "Validation Failed", doc);
    const list = runs.filter((r) =>
      r.owner.toLowerCase() === repo.owner.toLowerCase() &&
      r.repo.toLowerCase() === repo.name.toLowerCase() &&
      (wfPath === null || r.workflowPath === wfPath) &&
      Date.now() >= r.visibleAt &&
      when(r.createdAt) &&
      (!q.get("event") || q.get("event") === "workflow_dispatch") &&
      (!q.get("branch") || q.get("branch") === r.headBranch) &&
      (!q.get("head_sha") || q.get("head_sha") === r.headSha) &&
      (!q.get("status") || q.get("status") === r.status || q.get("status") === r.conclusion)
    ).reverse();
    const perPage = Math.min(100, Math.max(1, Number(q.get("per_page") ?? 30) || 30));
    const page = Math.max(1, Number(q.get("page") ?? 1) || 1);
    const pages = Math.max(1, Math.ceil(list.length / perPage));
    const link = (p: number, rel: string) => {
      const u = new URL(reqUrl);
      u.searchParams.set("page", String(p));
      return `<${url}${u.pathname}${u.search}>; rel="${rel}"`;
    };
    const links = [
      ...(page > 1 ? [link(page - 1, "prev"), link(1, "first")] : []),
      ...(page < pages ? [link(page + 1, "next"), link(pages, "last")] : []),
    ];
    return json(200, {
      total_count: list.length,
      workflow_runs: list.slice((page - 1) * perPage, page * perPage).map((r) => runJson(r, url)),
    }, links.length ? { link: links.join(", ") } : {});
  };

  const route = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const path = u.pathname.replace(/\/+$/, "");
    const page = /^\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(path);
    if (req.method === "GET" && page && !path.startsWith("/repos/")) {
      const r = runs.find((x) => x.id === Number(page[3]));
      return r
        ? new Response(`${r.displayTitle}: ${r.status} ${r.conclusion ?? ""}\n\n${r.log}`, {
          headers: { "content-type": "text/plain; charset=utf-8" },
        })
        : new Response("Not Found", { status: 404 });
    }
    const auth = req.headers.get("authorization");
    if (!auth) return error(401, "Requires authentication", "https://docs.github.com/rest");
    const m = /^(?:bearer|token)\s+(.+)$/i.exec(auth);
    if (!m || m[1].trim() !== o.token) {
      return error(401, "Bad credentials", "https://docs.github.com/rest");
    }
    const version = req.headers.get("x-github-api-version");
    if (version && !["2022-11-28", "2026-03-10"].includes(version)) {
      return error(
        400,
        `API version '${version}' is not supported.`,
        "https://docs.github.com/rest/overview/api-versions",
      );
    }
    const r = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(.+)$/.exec(path);
    const repo = r && repoOf(decodeURIComponent(r[1]), decodeURIComponent(r[2]));
    if (!r || !repo) return error(404, "Not Found", "https://docs.github.com/rest");
    const rest = r[3];
    let x: RegExpExecArray | null;
    if ((x = /^workflows\/([^/]+)\/dispatches$/.exec(rest)) && req.method === "POST") {
      return await dispatch(repo, decodeURIComponent(x[1]), req);
    }
    if ((x = /^workflows\/([^/]+)\/runs$/.exec(rest)) && req.method === "GET") {
      const wf = await findWorkflow(repo, decodeURIComponent(x[1]));
      if (!wf) {
        return error(404, "Not Found", `${DOCS}/workflow-runs#list-workflow-runs-for-a-workflow`);
      }
      return listRuns(repo, wf.path, u.searchParams, u);
    }
    if (rest === "runs" && req.method === "GET") return listRuns(repo, null, u.searchParams, u);
    if ((x = /^runs\/(\d+)(\/jobs|\/cancel)?$/.exec(rest))) {
      const run = runs.find((q) =>
        q.id === Number(x![1]) && q.owner === repo.owner && q.repo === repo.name
      );
      const sub = x[2] ?? "";
      if (sub === "" && req.method === "GET") {
        return run
          ? json(200, runJson(run, url))
          : error(404, "Not Found", `${DOCS}/workflow-runs#get-a-workflow-run`);
      }
      if (sub === "/jobs" && req.method === "GET") {
        if (!run) {
          return error(404, "Not Found", `${DOCS}/workflow-jobs#list-jobs-for-a-workflow-run`);
        }
        return json(200, { total_count: 1, jobs: [jobJson(run, url)] });
      }
      if (sub === "/cancel" && req.method === "POST") {
        const doc = `${DOCS}/workflow-runs#cancel-a-workflow-run`;
        if (!run) return error(404, "Not Found", doc);
        return cancelRun(run, runner())
          ? json(202, {})
          : error(409, "Cannot cancel a workflow run that is completed.", doc);
      }
    }
    return error(404, "Not Found", "https://docs.github.com/rest");
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const res = await route(req);
    const u = new URL(req.url);
    requests.push({
      method: req.method,
      path: u.pathname + u.search,
      status: res.status,
      body: bodies.get(req),
    });
    return res;
  });
  url = `http://127.0.0.1:${server.addr.port}`;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const r of runs) cancelRun(r, runner());
    await Promise.all(runs.map((r) => r.done));
    await server.shutdown();
    await removeTree(root);
  };
  return {
    url,
    requests,
    runs: () => [...runs],
    run: (id) => runs.find((r) => r.id === id),
    async waitForRun(id, cond, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const r = runs.find((x) => x.id === id);
        if (r && cond(r)) return r;
        if (Date.now() > end) {
          throw new Error(
            `run ${id} did not reach the expected state in ${timeoutMs} ms: ${
              r ? `${r.status} ${r.conclusion}\n${r.log}` : "no such run"
            }`,
          );
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
