/**
 * Parsing and validation of `kiln.yaml`: the slow half of loading a YAML task file.
 *
 * js-yaml and zod cost a few milliseconds to load, so this module is only imported when the
 * file's text differs from the cached parse (see `yaml_config.ts`). A valid file is parsed here;
 * an invalid one goes to `yaml_diagnose.ts`, which says what is wrong as one `ConfigError` line
 * naming the file, the line and the key path, plus what to do, e.g.
 * `kiln.yaml:7: tasks.t1.deps: expected a list of task ids, got a string; write deps: [t0]`.
 *
 * @module
 */

// @ts-types="npm:@types/js-yaml@^4.0.9"
import jsYaml from "js-yaml";
import {
  fileSchema,
  type ParsedFile,
  referenceProblem,
  toDecls,
  type YamlTasks,
} from "./yaml_schema.ts";

export type { YamlTaskDecl, YamlTasks } from "./yaml_schema.ts";

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
 * const { tasks } = await parseYamlTasks("tasks:\n  hi:\n    cmd: echo hi\n", "kiln.yaml");
 * // tasks[0] -> { id: "hi", cmd: "echo hi", deps: [], inputs: [], ... }
 * ```
 */
export async function parseYamlTasks(source: string, file: string): Promise<YamlTasks> {
  const quick = quickParse(source);
  if (quick) return toDecls(quick);
  const { diagnoseYaml } = await import("./yaml_diagnose.ts");
  return diagnoseYaml(source, file);
}

/**
 * The fast path for a valid file: js-yaml (YAML 1.2 core schema, as `yaml` uses) is five times
 * faster than `yaml`'s document model, which only errors need for their line numbers. Any doubt
 * (a syntax error, a duplicate key, a schema or reference problem) returns `null` and the
 * document path reports it.
 */
function quickParse(source: string): ParsedFile | null {
  let raw: unknown;
  try {
    raw = jsYaml.load(source, { schema: jsYaml.CORE_SCHEMA });
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== "object") return null;
  const result = fileSchema.safeParse(raw);
  if (!result.success || referenceProblem(result.data)) return null;
  return result.data;
}
