/**
 * The shape of `kiln.yaml`: the zod schema every task file is validated against, the cross-
 * reference checks it cannot express, and the plain-JSON form a validated file becomes. Shared by
 * the fast parser (`yaml_parse.ts`) and the error reporter (`yaml_diagnose.ts`).
 *
 * @module
 */

import { z } from "zod";
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

/** A key path into the file, e.g. `["tasks", "t1", "deps", 0]`. */
export type Path = (string | number)[];

/** The keys a task may have. */
export const TASK_KEYS = [
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
/** The keys the file may have at the top. */
export const TOP_KEYS = ["tasks", "pools"];
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

/** The whole file, strict: an unknown key is an error, not a silently dropped declaration. */
export const fileSchema = z.object({
  tasks: z.record(taskSchema),
  pools: z.record(z.number().int().positive()).default({}),
}).strict();
/** A file that passed {@link fileSchema}. */
export type ParsedFile = z.infer<typeof fileSchema>;

/** A problem located in the source: `offset` is where the line number comes from. */
export interface Problem {
  offset: number;
  path: Path;
  message: string;
  /** A required key is absent; an unknown key in the same map (a typo) explains it better. */
  missing?: boolean;
  /** An unknown key, probably a typo. */
  typo?: boolean;
}

/** Cross-references the schema cannot express: task ids, deps and pools that must exist. */
export function referenceProblem(
  parsed: ParsedFile,
  locate: (path: Path) => number = () => 0,
): Problem | null {
  const ids = new Set(Object.keys(parsed.tasks));
  for (const [id, t] of Object.entries(parsed.tasks)) {
    if (!isValidTaskId(id)) {
      const path = ["tasks", id];
      return {
        offset: locate(path),
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
          offset: locate(path),
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
        offset: locate(path),
        path,
        message: `unknown pool ${
          JSON.stringify(t.pool)
        }; declare it, e.g. pools: { ${t.pool}: 1 }, or remove the pool`,
      };
    }
  }
  return null;
}
/** The validated file as plain JSON data, tasks in file order. */
export function toDecls(parsed: ParsedFile): YamlTasks {
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
