/**
 * Parsing and validation of `kiln.yaml`: the slow half of loading a YAML task file.
 *
 * `yaml` and `zod` together cost tens of milliseconds to load, so this module is only imported
 * when the file's text differs from the cached parse (see `yaml_config.ts`). Every problem is one
 * {@link ConfigError} line naming the file, the line and the key path, plus what to do, e.g.
 * `kiln.yaml:7: tasks.t1.deps: expected a list of task ids, got a string; write deps: [t0]`.
 *
 * @module
 */

// @ts-types="npm:@types/js-yaml@^4.0.9"
import jsYaml from "js-yaml";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type YAMLError,
} from "yaml";
import { z } from "zod";
import { ConfigError } from "./failure.ts";
import { isValidTaskId, type JsonValue } from "./task.ts";

/**
 * One task as declared in YAML, validated and with defaults filled in. Plain JSON data, so the
 * loader can cache it and skip this module on the next run.
 */
export interface YamlTaskDecl {
  id: string;
  cmd: string;
  deps: string[];
  inputs: string[];
  outputs: string[];
  env: string[];
  pool?: string;
  description?: string;
  params: Record<string, JsonValue>;
  tools: { name: string; args?: string[] }[];
  platform: boolean;
}

/** What {@link parseYamlTasks} returns: the tasks in file order, and the pool sizes. */
export interface YamlTasks {
  tasks: YamlTaskDecl[];
  pools: Record<string, number>;
}

type Path = (string | number)[];

const TASK_KEYS = [
  "cmd",
  "deps",
  "inputs",
  "outputs",
  "env",
  "pool",
  "description",
  "params",
  "tools",
  "platform",
];
const TOP_KEYS = ["tasks", "pools"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The first value in `v` (a `params` map) that JSON cannot hold, with its path. */
function nonJson(v: unknown, path: Path): { path: Path; value: unknown } | null {
  if (v === null || typeof v === "string" || typeof v === "boolean") return null;
  if (typeof v === "number") return Number.isFinite(v) ? null : { path, value: v };
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) {
      const bad = nonJson(x, [...path, i]);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) {
      const bad = nonJson(x, [...path, k]);
      if (bad) return bad;
    }
    return null;
  }
  return { path, value: v };
}

const stringList = z.array(z.string());

const toolSchema = z.preprocess(
  (v) => typeof v === "string" ? { name: v } : v,
  z.object({ name: z.string().min(1), args: stringList.optional() }).strict(),
);

const taskSchema = z.object({
  cmd: z.string().refine((s) => s.trim() !== ""),
  deps: stringList.default([]),
  inputs: stringList.default([]),
  outputs: stringList.default([]),
  env: z.array(z.string().regex(ENV_NAME)).default([]),
  pool: z.string().min(1).optional(),
  description: z.string().optional(),
  params: z.record(z.unknown()).superRefine((params, ctx) => {
    const bad = nonJson(params, []);
    if (bad) ctx.addIssue({ code: z.ZodIssueCode.custom, path: bad.path });
  }).default({}),
  tools: z.array(toolSchema).default([]),
  platform: z.boolean().default(false),
}).strict();

const fileSchema = z.object({
  tasks: z.record(taskSchema),
  pools: z.record(z.number().int().positive()).default({}),
}).strict();

/** `tasks.t1.deps[0]`; keys that are not plain words are quoted: `tasks["iso/build"]`. */
function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A short description of what the user wrote, for `expected X, got Y`. */
function describe(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (typeof v === "string") {
    if (v === "") return "an empty string";
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  }
  if (typeof v === "number") return Number.isFinite(v) ? `the number ${v}` : `${v}`;
  if (typeof v === "boolean") return `${v}`;
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "binary data";
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return "a map";
  return `a ${typeof v}`;
}

/** Short form for list hints: `got a string` reads better than the whole command. */
function kindOf(v: unknown): string {
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  return describe(v);
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Renders a scalar the way the user would write it in YAML flow style. */
function yamlish(v: unknown): string {
  if (typeof v === "string") return /^[A-Za-z0-9_./*-]+$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}

/** The expectation and the fix for the value at `path`, derived from where it sits. */
function expectation(path: Path, got: unknown): { expected: string; fix: string } {
  const key = path[path.length - 1];
  const [top, , field, , sub] = path;
  const asList = (what: string, example: string) => ({
    expected: `a list of ${what}`,
    fix: typeof got === "string" || typeof got === "number"
      ? `write ${key}: [${yamlish(got)}]`
      : `write ${key}: [${example}]`,
  });
  const quote = (what: string, example: string) => ({
    expected: what,
    fix: typeof got === "number" || typeof got === "boolean"
      ? `quote it: "${got}"`
      : `write ${example}`,
  });
  if (path.length === 0) return { expected: "a map with a tasks: key", fix: "start with tasks:" };
  if (top === "pools") {
    if (path.length === 1) {
      return { expected: "a map of pool names to sizes", fix: "write pools: { vm: 1 }" };
    }
    return {
      expected: "a positive whole number",
      fix: `write ${key}: 1 or more (how many of its tasks may run at once)`,
    };
  }
  if (path.length === 1) {
    return { expected: "a map of task ids to tasks", fix: "indent each task id under tasks:" };
  }
  if (path.length === 2) {
    return {
      expected: "a task (a map with at least cmd)",
      fix: typeof got === "string"
        ? `write ${key}: { cmd: ${yamlish(got)} }`
        : "indent cmd: under the task id",
    };
  }
  if (path.length === 3) {
    switch (field) {
      case "cmd":
        return { expected: "a shell command", fix: "write the command to run, e.g. cmd: make" };
      case "deps":
        return asList("task ids", "t0");
      case "inputs":
        return asList("files or globs", "src/*.c");
      case "outputs":
        return asList("files or folders", "out/app");
      case "env":
        return asList("env var names", "LANG");
      case "pool":
        return quote("a pool name", "pool: vm");
      case "description":
        return quote("a description", `description: "Builds the app"`);
      case "params":
        return { expected: "a map of parameters", fix: "write params: { version: 1 }" };
      case "tools":
        return asList("tools", "gcc");
      case "platform":
        return { expected: "true or false", fix: "write platform: true" };
    }
  }
  if (field === "params") {
    return {
      expected: "a JSON value",
      fix: typeof got === "number"
        ? `quote it: "${got}"`
        : "use a string, number, true, false, null, list or map",
    };
  }
  if (field === "tools") {
    if (path.length === 4) {
      return { expected: "a tool name or a {name, args} map", fix: "write e.g. gcc" };
    }
    if (sub === "name") return quote("a tool name", "name: gcc");
    if (path.length === 5) return asList("arguments", "--version");
    return quote("an argument", `"--version"`);
  }
  switch (field) {
    case "deps":
      return quote("a task id", "the id of another task");
    case "inputs":
      return quote("a file or glob", "a workspace-relative path");
    case "outputs":
      return quote("a file or folder", "a workspace-relative path");
    case "env":
      return {
        expected: "an env var name",
        fix: typeof got === "string"
          ? "use letters, digits and _ (no $), e.g. LANG"
          : "write a name like LANG",
      };
  }
  return { expected: "a different value", fix: "see the task file format in the docs" };
}

/** Edit distance counting a swap of neighbours as one edit, to suggest `cmd` for `cdm`. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function unknownKeyMessage(key: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(key.toLowerCase(), k) }))
    .sort((a, b) => a.d - b.d)[0];
  const fix = best.d <= Math.max(1, Math.floor(best.k.length / 3))
    ? `rename it to ${best.k}`
    : `use one of ${known.join(", ")}`;
  return `unknown key ${JSON.stringify(key)}; ${fix}`;
}

/** A problem located in the source: `offset` is where the line number comes from. */
interface Problem {
  offset: number;
  path: Path;
  message: string;
  /** A required key is absent; an unknown key in the same map (a typo) explains it better. */
  missing?: boolean;
  /** An unknown key, probably a typo. */
  typo?: boolean;
}

/** Source offset of the deepest node along `path` that exists (a key, else a list item). */
function locateIn(doc: Document, path: Path): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents?.range?.[0]) ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      const item = node.items[seg] as { range?: [number, number, number] };
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** YAML-level problems zod cannot see: duplicate keys, complex keys, unresolved aliases. */
function structuralProblem(doc: Document): Problem | null {
  const walk = (node: unknown, path: Path): Problem | null => {
    if (isAlias(node)) {
      if (node.resolve(doc) === undefined) {
        return {
          offset: node.range?.[0] ?? 0,
          path,
          message: `unknown alias *${node.source}; define &${node.source} before using it`,
        };
      }
      return null;
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const keyNode = pair.key as { range?: [number, number, number] } | null;
        const offset = keyNode?.range?.[0] ?? node.range?.[0] ?? 0;
        if (
          !isScalar(pair.key) || (pair.key.value !== null && typeof pair.key.value === "object")
        ) {
          return { offset, path, message: "keys must be plain names; write name: value" };
        }
        const key = String(pair.key.value);
        if (seen.has(key)) {
          return {
            offset,
            path: [...path, key],
            message: `duplicate key ${JSON.stringify(key)}; remove or rename one of them`,
          };
        }
        seen.add(key);
        const bad = walk(pair.value, [...path, key]);
        if (bad) return bad;
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) {
        const bad = walk(item, [...path, i]);
        if (bad) return bad;
      }
    }
    return null;
  };
  return walk(doc.contents, []);
}

function syntaxMessage(e: YAMLError, lc: LineCounter): string {
  const col = lc.linePos(e.pos[0]).col;
  const what = e.message.replace(/\s+/g, " ").replace(/[.;]\s.*$|\.$/, "").trim();
  const hint: Partial<Record<YAMLError["code"], string>> = {
    TAB_AS_INDENT: "indent with spaces, not tabs",
    MULTIPLE_DOCS: "keep one document per file and remove the --- line",
    BAD_INDENT: "check the indentation and closing brackets",
    MISSING_CHAR: "add the missing character",
    MULTILINE_IMPLICIT_KEY: "put each key and its colon on one line",
    BAD_DQ_ESCAPE: `use single quotes or escape the backslash as \\\\`,
  };
  const message = e.code === "MULTIPLE_DOCS" ? "more than one YAML document" : what;
  return `invalid YAML at column ${col}: ${message.charAt(0).toLowerCase()}${message.slice(1)}; ${
    hint[e.code] ?? "fix the syntax here"
  }`;
}

/** The problem zod reported that comes first in the file. */
function schemaProblem(doc: Document, raw: unknown, issues: z.ZodIssue[]): Problem {
  const problems = issues.map((issue): Problem => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const key = issue.keys[0];
      const path = [...issue.path, key];
      const known = issue.path.length === 0
        ? TOP_KEYS
        : issue.path.length === 2
        ? TASK_KEYS
        : ["name", "args"];
      return {
        offset: locateIn(doc, path),
        path,
        message: unknownKeyMessage(key, known),
        typo: true,
      };
    }
    const got = valueAt(raw, issue.path);
    const key = issue.path[issue.path.length - 1];
    if (got === undefined && issue.path.length > 0) {
      const parent = issue.path.slice(0, -1);
      const fix = key === "cmd"
        ? "add the command to run, e.g. cmd: make"
        : key === "tasks"
        ? "add a tasks: map with one entry per task"
        : key === "name"
        ? "add the tool's name, e.g. name: gcc"
        : `add ${String(key)}:`;
      return {
        offset: locateIn(doc, parent),
        path: parent,
        message: `missing ${String(key)}; ${fix}`,
        missing: true,
      };
    }
    const { expected, fix } = expectation(issue.path, got);
    const listField = issue.path.length === 3 && typeof got !== "object" &&
      expected.startsWith("a list");
    return {
      offset: locateIn(doc, issue.path),
      path: issue.path,
      message: `expected ${expected}, got ${listField ? kindOf(got) : describe(got)}; ${fix}`,
    };
  });
  const typoIn = new Set(
    problems.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))),
  );
  const useful = problems.filter((p) => !(p.missing && typoIn.has(JSON.stringify(p.path))));
  return useful.reduce((a, b) => (b.offset < a.offset ? b : a));
}

/** Cross-references the schema cannot express: task ids, deps and pools that must exist. */
function referenceProblem(
  doc: Document | null,
  parsed: z.infer<typeof fileSchema>,
): Problem | null {
  const locate = (d: Document | null, path: Path) => d ? locateIn(d, path) : 0;
  const ids = new Set(Object.keys(parsed.tasks));
  for (const [id, t] of Object.entries(parsed.tasks)) {
    if (!isValidTaskId(id)) {
      const path = ["tasks", id];
      return {
        offset: locate(doc, path),
        path,
        message: `invalid task id ${
          JSON.stringify(id)
        }; use letters, digits and "._:/-", starting with a letter or digit`,
      };
    }
    for (const [i, d] of t.deps.entries()) {
      if (!ids.has(d)) {
        const path = ["tasks", id, "deps", i];
        return {
          offset: locate(doc, path),
          path,
          message: `unknown task ${
            JSON.stringify(d)
          }; declare it under tasks or remove it from deps`,
        };
      }
    }
    if (t.pool !== undefined && !(t.pool in parsed.pools)) {
      const path = ["tasks", id, "pool"];
      return {
        offset: locate(doc, path),
        path,
        message: `unknown pool ${
          JSON.stringify(t.pool)
        }; declare it, e.g. pools: { ${t.pool}: 1 }, or remove the pool`,
      };
    }
  }
  return null;
}

/**
 * Parses and validates a YAML task file.
 *
 * Strict on purpose: an unknown key (say `output:` for `outputs:`) would otherwise silently drop
 * a declaration and make the cache key wrong. Checks that deps and pools refer to declared names
 * too, so those errors can point at a line; `buildGraph` still does the graph-level checks.
 *
 * @param source the file's text
 * @param file the name to show in errors, usually as the user passed it
 * @returns the tasks in file order with defaults filled in (`deps: []`, `platform: false`, ...)
 * @throws {ConfigError} for any problem, as one line: `kiln.yaml:7: tasks.t1.deps: expected ...`
 *
 * @example
 * ```ts
 * const { tasks } = parseYamlTasks("tasks:\n  hi:\n    cmd: echo hi\n", "kiln.yaml");
 * // tasks[0] -> { id: "hi", cmd: "echo hi", deps: [], inputs: [], ... }
 * ```
 */
export function parseYamlTasks(source: string, file: string): YamlTasks {
  const quick = quickParse(source);
  if (quick) return toDecls(quick);
  const lc = new LineCounter();
  const fail = (p: Problem): never => {
    const where = p.path.length ? `${formatPath(p.path)}: ` : "";
    throw new ConfigError(`${file}:${lc.linePos(p.offset).line}: ${where}${p.message}`);
  };
  const doc = parseDocument(source, {
    lineCounter: lc,
    prettyErrors: false,
    uniqueKeys: false, // reported below, with the key path
  });
  const syntax = doc.errors[0];
  if (syntax) {
    throw new ConfigError(
      `${file}:${lc.linePos(syntax.pos[0]).line}: ${syntaxMessage(syntax, lc)}`,
    );
  }
  if (doc.contents === null) {
    fail({ offset: 0, path: [], message: "the file declares no tasks; add a tasks: map" });
  }
  const structural = structuralProblem(doc);
  if (structural) fail(structural);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    fail({
      offset: 0,
      path: [],
      message: `cannot read the YAML (${
        e instanceof Error ? e.message : String(e)
      }); remove aliases that expand too much`,
    });
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) fail(schemaProblem(doc, raw, result.error.issues));
  const parsed = result.data!;
  const ref = referenceProblem(doc, parsed);
  if (ref) fail(ref);
  return toDecls(parsed);
}

/**
 * The fast path for a valid file: js-yaml (YAML 1.2 core schema, as `yaml` uses) is five times
 * faster than `yaml`'s document model, which only errors need for their line numbers. Any doubt
 * (a syntax error, a duplicate key, a schema or reference problem) returns `null` and the
 * document path reports it.
 */
function quickParse(source: string): z.infer<typeof fileSchema> | null {
  let raw: unknown;
  try {
    raw = jsYaml.load(source, { schema: jsYaml.CORE_SCHEMA });
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== "object") return null;
  const result = fileSchema.safeParse(raw);
  if (!result.success || referenceProblem(null, result.data)) return null;
  return result.data;
}

function toDecls(parsed: z.infer<typeof fileSchema>): YamlTasks {
  const tasks = Object.entries(parsed.tasks).map(([id, t]): YamlTaskDecl => {
    const decl: YamlTaskDecl = {
      id,
      cmd: t.cmd,
      deps: t.deps,
      inputs: t.inputs,
      outputs: t.outputs,
      env: t.env,
      params: t.params as Record<string, JsonValue>,
      tools: t.tools.map((tool) =>
        tool.args ? { name: tool.name, args: tool.args } : { name: tool.name }
      ),
      platform: t.platform,
    };
    if (t.pool !== undefined) decl.pool = t.pool;
    if (t.description !== undefined) decl.description = t.description;
    return decl;
  });
  return { tasks, pools: parsed.pools };
}
