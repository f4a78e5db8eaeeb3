/**
 * The part of GitHub Actions' workflow syntax the fake GitHub (`fake_github.ts`) needs: the
 * `workflow_dispatch` inputs and how GitHub validates a dispatch against them, `run-name`, the
 * jobs' steps, `env` and `defaults`, and `${{ }}` expressions made of context properties
 * (`inputs.x`, `github.ref_name`), string literals and `||`. Anything else in an expression is
 * reported, never silently guessed.
 *
 * @module
 */

import { parse } from "yaml";

/** One `workflow_dispatch` input. */
export interface InputSpec {
  readonly required: boolean;
  readonly default?: string | boolean | number;
  readonly type: string;
  readonly options?: readonly string[];
}

/** A step of a job. */
export interface StepSpec {
  readonly id?: string;
  readonly name?: string;
  readonly run?: string;
  readonly uses?: string;
  readonly shell?: string;
  readonly workingDirectory?: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A job. */
export interface JobSpec {
  readonly key: string;
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  readonly shell?: string;
  readonly workingDirectory?: string;
  readonly steps: readonly StepSpec[];
}

/** A parsed workflow file. */
export interface WorkflowSpec {
  readonly name: string;
  readonly runName?: string;
  /** `null` when the workflow has no `workflow_dispatch` trigger. */
  readonly dispatchInputs: Readonly<Record<string, InputSpec>> | null;
  readonly env: Readonly<Record<string, string>>;
  readonly shell?: string;
  readonly workingDirectory?: string;
  readonly jobs: readonly JobSpec[];
}

const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};

const strings = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k, String(x)]));

const opt = (
  v: unknown,
): string | undefined => (v === undefined || v === null ? undefined : String(v));

/** Parses a workflow file; a string is the reason it cannot be used. */
export function parseWorkflow(text: string, path: string): WorkflowSpec | string {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return `${path}: ${(e as Error).message.split("\n")[0]}`;
  }
  const wf = obj(doc);
  const on = wf.on;
  let dispatch: unknown = undefined;
  let hasDispatch = false;
  if (typeof on === "string") hasDispatch = on === "workflow_dispatch";
  else if (Array.isArray(on)) hasDispatch = on.includes("workflow_dispatch");
  else if ("workflow_dispatch" in obj(on)) {
    hasDispatch = true;
    dispatch = obj(on).workflow_dispatch;
  }
  let inputs: Record<string, InputSpec> | null = null;
  if (hasDispatch) {
    inputs = {};
    for (const [k, v] of Object.entries(obj(obj(dispatch).inputs))) {
      const i = obj(v);
      inputs[k] = {
        required: i.required === true,
        default: i.default as string | boolean | number | undefined,
        type: typeof i.type === "string" ? i.type : "string",
        options: Array.isArray(i.options) ? i.options.map(String) : undefined,
      };
    }
  }
  const runDefaults = (x: Record<string, unknown>) => obj(obj(x.defaults).run);
  const jobs: JobSpec[] = Object.entries(obj(wf.jobs)).map(([key, j]) => {
    const job = obj(j);
    return {
      key,
      name: opt(job.name) ?? key,
      env: strings(job.env),
      shell: opt(runDefaults(job).shell),
      workingDirectory: opt(runDefaults(job)["working-directory"]),
      steps: (Array.isArray(job.steps) ? job.steps : []).map((s) => {
        const st = obj(s);
        return {
          id: opt(st.id),
          name: opt(st.name),
          run: opt(st.run),
          uses: opt(st.uses),
          shell: opt(st.shell),
          workingDirectory: opt(st["working-directory"]),
          env: strings(st.env),
        };
      }),
    };
  });
  return {
    name: opt(wf.name) ?? path,
    runName: opt(wf["run-name"]),
    dispatchInputs: inputs,
    env: strings(wf.env),
    shell: opt(runDefaults(wf).shell),
    workingDirectory: opt(runDefaults(wf)["working-directory"]),
    jobs,
  };
}

/** A step's display name as GitHub shows it: its `name`, else `Run <uses or first line>`. */
export function stepName(s: StepSpec): string {
  if (s.name) return s.name;
  if (s.uses) return `Run ${s.uses}`;
  return `Run ${(s.run ?? "").trim().split("\n")[0]}`;
}

/**
 * Checks a dispatch's inputs as GitHub does, filling in defaults: the resolved inputs, or the
 * message GitHub answers with 422.
 */
export function resolveInputs(
  specs: Readonly<Record<string, InputSpec>>,
  given: Readonly<Record<string, unknown>>,
): Record<string, string | boolean> | string {
  const unexpected = Object.keys(given).filter((k) => !(k in specs));
  if (unexpected.length) return `Unexpected inputs provided: ${JSON.stringify(unexpected)}`;
  const out: Record<string, string | boolean> = {};
  for (const [k, spec] of Object.entries(specs)) {
    const v = given[k];
    if (v === undefined || v === "") {
      if (spec.required && spec.default === undefined) return `Required input '${k}' not provided`;
      out[k] = spec.type === "boolean"
        ? spec.default === true || spec.default === "true"
        : String(spec.default ?? "");
      continue;
    }
    const s = String(v);
    if (spec.type === "choice" && spec.options && !spec.options.includes(s)) {
      return `Provided value '${s}' for input '${k}' not in the list of allowed values`;
    }
    if (spec.type === "boolean") {
      if (s !== "true" && s !== "false") {
        return `Provided value '${s}' for input '${k}' is not a valid boolean`;
      }
      out[k] = s === "true";
    } else out[k] = s;
  }
  return out;
}

/** The contexts an expression can read. */
export interface ExprContext {
  readonly inputs: Readonly<Record<string, string | boolean>>;
  readonly github: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
}

/** Contexts that exist on GitHub but hold nothing for a dispatched run here (a missing secret is ""). */
const EMPTY_CONTEXTS = new Set([
  "secrets",
  "vars",
  "steps",
  "needs",
  "matrix",
  "strategy",
  "job",
  "runner",
]);

function operand(text: string, ctx: ExprContext): string | boolean | null {
  const t = text.trim();
  const lit = /^'((?:[^']|'')*)'$/.exec(t);
  if (lit) return lit[1].replace(/''/g, "'");
  if (t === "true" || t === "false") return t === "true";
  if (t === "null") return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return t;
  const prop = /^([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)$/.exec(t) ??
    /^([A-Za-z_][\w-]*)\[\s*'([^']+)'\s*\]$/.exec(t);
  if (prop) {
    const [, c, k] = prop;
    if (c === "inputs") return ctx.inputs[k] ?? null;
    if (c === "github") return ctx.github[k] ?? null;
    if (c === "env") return ctx.env?.[k] ?? null;
    if (EMPTY_CONTEXTS.has(c)) return null;
  }
  throw new Error(`the fake GitHub cannot evaluate "${t}"`);
}

/** Evaluates one expression: operands joined by `||` (the first truthy one, else the last). */
export function evaluate(expr: string, ctx: ExprContext): string {
  const parts = expr.split("||");
  let v: string | boolean | null = null;
  for (const p of parts) {
    v = operand(p, ctx);
    if (v !== null && v !== "" && v !== false) break;
  }
  return v === null ? "" : String(v);
}

/**
 * Replaces every `${{ expr }}` in `text`, as the runner does before a shell sees a `run:` script.
 *
 * @throws {Error} for an expression outside the supported subset
 */
export function substitute(text: string, ctx: ExprContext): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, e: string) => evaluate(e, ctx));
}
