/**
 * The runner of the fake GitHub (`fake_github.ts`): it plays a dispatched workflow run the way a
 * GitHub-hosted runner would, on this machine. The run goes queued → in_progress → completed;
 * "Set up job" clones the repository into a fresh folder at the commit in `inputs.ref` (as the
 * workflow's checkout step does); then, of job `dispatch`, the step with `id: build` runs its
 * `run:` script (expressions substituted) with the step's shell, in the clone, with `CI=true`,
 * `GITHUB_ACTIONS=true`, the usual `GITHUB_*` variables and the test's env. Other steps
 * (`uses:` actions such as checkout or setup-deno) are recorded as skipped: the clone and this
 * machine's tools stand in for them. Cancelling kills the step's process group.
 *
 * @module
 */

import { killGroup } from "../../builders/local.ts";
import {
  type ExprContext,
  type JobSpec,
  stepName,
  type StepSpec,
  substitute,
  type WorkflowSpec,
} from "./fake_github_workflow.ts";

/** A step as the jobs endpoint shows it. */
export interface StepState {
  readonly name: string;
  readonly number: number;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  readonly spec?: StepSpec;
}

/** The run's one job (`dispatch`). */
export interface JobState {
  readonly id: number;
  readonly key: string;
  readonly name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  started_at: string;
  completed_at: string | null;
  readonly steps: StepState[];
}

/** Everything the fake knows about a run. */
export interface RunState {
  readonly id: number;
  readonly runNumber: number;
  readonly owner: string;
  readonly repo: string;
  /** Where the test's repository is (a path git can clone). */
  readonly source: string;
  readonly workflowPath: string;
  readonly workflowId: number;
  readonly spec: WorkflowSpec;
  readonly displayTitle: string;
  readonly headBranch: string;
  readonly headSha: string;
  readonly inputs: Readonly<Record<string, string | boolean>>;
  /** The commit "Set up job" checks out: `inputs.ref` when the workflow has that input. */
  readonly checkout: string;
  readonly createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  /** Listed by the runs endpoints from this time (ms since the epoch). */
  readonly visibleAt: number;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  readonly job: JobState;
  /** The run's log: every step's output, with a header line per step. */
  log: string;
  /** The run's folder: `work/` (the clone), step scripts, `GITHUB_*` files. */
  readonly dir: string;
  /** Aborted by a cancel request. */
  readonly cancel: AbortController;
  /** The running step's process (its own process group). */
  pid: number | null;
  done?: Promise<void>;
}

/** How the runner runs. */
export interface RunnerOptions {
  /** The fake's base URL (GITHUB_SERVER_URL, GITHUB_API_URL). */
  readonly baseUrl: string;
  /** Env for the build step, over the defaults (test values win). */
  readonly env: Readonly<Record<string, string>>;
  /** Time a queued run waits before it starts. */
  readonly startDelayMs: number;
  /** Time between SIGINT and SIGKILL when a run is cancelled. */
  readonly killGraceMs: number;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** The steps a job shows: "Set up job", its own, "Complete job". */
export function jobSteps(job: JobSpec | undefined): StepState[] {
  const names = ["Set up job", ...(job?.steps ?? []).map(stepName), "Complete job"];
  return names.map((name, i) => ({
    name,
    number: i + 1,
    status: "queued",
    conclusion: null,
    started_at: null,
    completed_at: null,
    spec: i === 0 || i === names.length - 1 ? undefined : job!.steps[i - 1],
  }));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

async function sh(args: string[], cwd: string): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command("git", { args, cwd, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { ok: out.success, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** The `github` context of a run. */
export function githubContext(run: RunState, baseUrl: string): Record<string, string> {
  return {
    ref_name: run.headBranch,
    ref: `refs/heads/${run.headBranch}`,
    ref_type: "branch",
    sha: run.headSha,
    event_name: "workflow_dispatch",
    repository: `${run.owner}/${run.repo}`,
    repository_owner: run.owner,
    actor: "kiln-test",
    triggering_actor: "kiln-test",
    workflow: run.spec.name,
    run_id: String(run.id),
    run_number: String(run.runNumber),
    run_attempt: "1",
    server_url: baseUrl,
    api_url: baseUrl,
    job: run.job.key,
    workspace: `${run.dir}/work`,
  };
}

function argvFor(shell: string | undefined, script: string): string[] {
  if (shell === undefined) return ["bash", "-e", script];
  if (shell === "bash") return ["bash", "--noprofile", "--norc", "-eo", "pipefail", script];
  if (shell === "sh") return ["sh", "-e", script];
  if (shell.includes("{0}")) return shell.split(/\s+/).map((a) => a.replace("{0}", script));
  throw new Error(`the fake GitHub cannot run shell "${shell}"`);
}

async function runStep(
  run: RunState,
  job: JobSpec,
  step: StepState,
  o: RunnerOptions,
): Promise<"success" | "failure" | "cancelled"> {
  const spec = step.spec!;
  const gh = githubContext(run, o.baseUrl);
  const ctx: ExprContext = { inputs: run.inputs, github: gh };
  const files = {
    GITHUB_ENV: `${run.dir}/env`,
    GITHUB_OUTPUT: `${run.dir}/output`,
    GITHUB_PATH: `${run.dir}/path`,
    GITHUB_STEP_SUMMARY: `${run.dir}/summary.md`,
    GITHUB_EVENT_PATH: `${run.dir}/event.json`,
  };
  let script: string, argv: string[];
  const env: Record<string, string> = {};
  try {
    script = substitute(spec.run ?? "", ctx);
    for (const layer of [run.spec.env, job.env, spec.env]) {
      for (const [k, v] of Object.entries(layer)) env[k] = substitute(v, { ...ctx, env });
    }
    argv = argvFor(spec.shell ?? job.shell ?? run.spec.shell, `${run.dir}/step-${step.number}.sh`);
  } catch (e) {
    run.log += `##[error]${(e as Error).message}\n`;
    return "failure";
  }
  for (const f of Object.values(files)) Deno.writeTextFileSync(f, "", { append: true });
  Deno.writeTextFileSync(
    files.GITHUB_EVENT_PATH,
    JSON.stringify({ inputs: run.inputs, ref: gh.ref, workflow: run.workflowPath }),
  );
  Deno.writeTextFileSync(`${run.dir}/step-${step.number}.sh`, script);
  const host = (n: string) => Deno.env.get(n);
  const base: Record<string, string> = { PATH: host("PATH") ?? "/usr/bin:/bin" };
  for (const n of ["HOME", "DENO_DIR", "LANG"]) if (host(n)) base[n] = host(n)!;
  const wd = spec.workingDirectory ?? job.workingDirectory ?? run.spec.workingDirectory;
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: wd ? `${run.dir}/work/${wd}` : `${run.dir}/work`,
    clearEnv: true,
    env: {
      ...base,
      CI: "true",
      GITHUB_ACTIONS: "true",
      RUNNER_OS: "Linux",
      RUNNER_TEMP: `${run.dir}/tmp`,
      ...Object.fromEntries(Object.entries(gh).map(([k, v]) => [`GITHUB_${k.toUpperCase()}`, v])),
      ...files,
      ...env,
      ...o.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true, // its own process group: a cancel signals everything it started
  }).spawn();
  run.pid = child.pid;
  const dec = () => new TextDecoderStream();
  const append = new WritableStream<string>({ write: (s) => void (run.log += s) });
  const [a, b] = [child.stdout.pipeThrough(dec()), child.stderr.pipeThrough(dec())];
  const merged = new ReadableStream<string>({
    async start(c) {
      await Promise.all([a, b].map(async (s) => {
        for await (const chunk of s) c.enqueue(chunk);
      }));
      c.close();
    },
  });
  const [status] = await Promise.all([child.status, merged.pipeTo(append)]);
  run.pid = null;
  if (run.cancel.signal.aborted) return "cancelled";
  return status.success ? "success" : "failure";
}

function setStep(run: RunState, s: StepState, status: StepState["status"], conclusion?: string) {
  const now = iso(new Date());
  s.status = status;
  if (status === "in_progress") s.started_at = now;
  if (status === "completed") {
    s.started_at ??= now;
    s.completed_at = now;
    s.conclusion = conclusion ?? null;
  }
  run.updatedAt = new Date();
}

/** Plays `run` to its end; never rejects. */
export async function execute(run: RunState, o: RunnerOptions): Promise<void> {
  const job = run.spec.jobs.find((j) => j.key === "dispatch");
  const finish = (conclusion: string) => {
    const now = new Date();
    for (const s of run.job.steps) {
      if (s.status !== "completed") {
        setStep(run, s, "completed", s.status === "in_progress" ? conclusion : "skipped");
      }
    }
    run.job.status = "completed";
    run.job.conclusion = conclusion;
    run.job.completed_at = iso(now);
    run.status = "completed";
    run.conclusion = conclusion;
    run.updatedAt = now;
  };
  try {
    await sleep(o.startDelayMs, run.cancel.signal);
    if (run.cancel.signal.aborted) return finish("cancelled");
    run.status = "in_progress";
    run.startedAt = run.updatedAt = new Date();
    run.job.status = "in_progress";
    run.job.started_at = iso(run.startedAt);
    const [setup, ...rest] = run.job.steps;
    const complete = rest.pop()!;
    setStep(run, setup, "in_progress");
    run.log += `== ${setup.name}\n`;
    Deno.mkdirSync(`${run.dir}/tmp`, { recursive: true });
    const clone = await sh(
      ["clone", "-q", "--no-checkout", run.source, `${run.dir}/work`],
      run.dir,
    );
    const co = clone.ok
      ? await sh(["checkout", "-q", "--detach", run.checkout], `${run.dir}/work`)
      : clone;
    run.log += clone.text + (clone === co ? "" : co.text);
    const build = job?.steps.find((s) => s.id === "build");
    if (!co.ok || !job || !build?.run) {
      if (co.ok) {
        run.log +=
          `##[error]the fake GitHub runs job "dispatch", step "id: build" (a run: step); ${run.workflowPath} has none\n`;
      }
      setStep(run, setup, "completed", "failure");
      return finish("failure");
    }
    setStep(run, setup, "completed", "success");
    let conclusion = "success";
    for (const s of rest) {
      if (conclusion !== "success" || run.cancel.signal.aborted) break;
      if (s.spec !== build) {
        setStep(run, s, "completed", "skipped");
        continue;
      }
      setStep(run, s, "in_progress");
      run.log += `== ${s.name}\n`;
      conclusion = await runStep(run, job, s, o);
      setStep(run, s, "completed", conclusion);
    }
    if (run.cancel.signal.aborted) conclusion = "cancelled";
    setStep(run, complete, "completed", "success");
    finish(conclusion);
  } catch (e) {
    run.log += `##[error]fake runner: ${(e as Error).stack}\n`;
    finish("failure");
  }
}

/** Cancels `run`: false when it had already completed (GitHub answers 409 then). */
export function cancelRun(run: RunState, o: RunnerOptions): boolean {
  if (run.status === "completed") return false;
  if (run.cancel.signal.aborted) return true;
  run.cancel.abort();
  const pid = run.pid;
  if (pid !== null) {
    killGroup(pid, "SIGINT");
    const t = setTimeout(() => {
      if (run.pid === pid) killGroup(pid, "SIGKILL");
    }, o.killGraceMs);
    run.done?.finally(() => clearTimeout(t));
  }
  return true;
}
