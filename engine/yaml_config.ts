/**
 * Loading a YAML task file (`kiln.yaml`) into a {@link TaskSet}, fast.
 *
 * A no-op build must start in a few milliseconds, and loading `yaml` and `zod` alone costs more
 * than that. So the validated parse is cached in `<root>/.kiln/config-cache.json` next to the
 * exact text it came from; while the text is unchanged the parser is never imported. This module
 * therefore imports no npm or `node:` module statically; `yaml_parse.ts` is loaded on demand.
 *
 * @module
 */

import { ConfigError } from "./failure.ts";
import { replaceFileAtomic } from "./durable.ts";
import { ensureDir } from "./fs_util.ts";
import { dirname, join, kilnDir, resolve } from "./path.ts";
import { cmd, type Task, type TaskSet } from "./task.ts";
import { buildGraph, type Graph, graphFromShape, type GraphShape, graphShape } from "./graph.ts";
import type { YamlTaskDecl, YamlTasks } from "./yaml_parse.ts";

/** Format of `.kiln/config-cache.json`. Bump `v` when {@link YamlTaskDecl} changes shape. */
interface ConfigCache {
  v: 2;
  /** Absolute path of the task file, for people reading the cache. */
  file: string;
  /** The exact text that `parsed` came from. */
  source: string;
  /** The tasks as `buildGraph` normalized them. */
  parsed: YamlTasks;
  /** What `buildGraph` found (see `graphFromShape`). */
  shape: GraphShape;
}

function readSource(file: string, abs: string): string {
  try {
    return Deno.readTextFileSync(abs);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "not found"
      : e instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new ConfigError(
      `Cannot read task file ${JSON.stringify(file)}: ${why}; pass an existing file with --file`,
    );
  }
}

/** The cached parse when it was made from exactly `source`; `null` on any doubt. */
function readCache(path: string, source: string): ConfigCache | null {
  try {
    // Synchronous: on the no-op path a thread-pool hop costs more than the read.
    const c = JSON.parse(Deno.readTextFileSync(path)) as Partial<ConfigCache>;
    if (
      c.v === 2 && c.source === source && Array.isArray(c.parsed?.tasks) &&
      typeof c.parsed?.pools === "object" && c.parsed.pools !== null &&
      Array.isArray(c.shape?.order) && typeof c.shape?.deps === "object"
    ) {
      return c as ConfigCache;
    }
  } catch {
    // missing or corrupt: parse again
  }
  return null;
}

/** Best-effort: a read-only workspace still builds; it just parses every time. */
function writeCache(dir: string, path: string, cache: ConfigCache): void {
  try {
    ensureDir(dir);
    replaceFileAtomic(path, JSON.stringify(cache));
  } catch { /* not writable */ }
}

function toTask(d: YamlTaskDecl): Task {
  return {
    id: d.id,
    ...(d.description !== undefined && { description: d.description }),
    deps: d.deps,
    inputs: d.inputs,
    outputs: d.outputs,
    env: d.env,
    params: d.params,
    tools: d.tools,
    platform: d.platform,
    ...(d.pool !== undefined && { pool: d.pool }),
    action: cmd(d.cmd),
  };
}

/** The identity of a YAML task set: its absolute path and exact text (see `stamp.ts`). */
export function yamlConfigId(abs: string, source: string): string {
  return `yaml ${abs}\n${source}`;
}

/**
 * Loads a YAML task file; the workspace root is the folder that contains it.
 *
 * Parses only when the file's text differs from the parse cached by {@link loadYamlGraph}, so an
 * unchanged file costs two small reads and no parser import. Each task's `cmd` becomes a shell
 * action (`sh -c` in the root). Only syntax and shape are checked here; pass the result to
 * `buildGraph` for the rest, or use {@link loadYamlGraph}, which also caches.
 *
 * @param file path of the task file, absolute or relative to the working directory
 * @throws {ConfigError} when the file cannot be read or is invalid, as one line naming the file
 *   and line, e.g. `kiln.yaml:7: tasks.t1.output: unknown key "output"; rename it to outputs`
 *
 * @example
 * ```ts
 * const set = await loadYamlConfig("examples/hello/kiln.yaml");
 * // set.root === "/abs/path/examples/hello"; set.tasks[0].action === { kind: "cmd", cmd: "..." }
 * const graph = buildGraph(set);
 * ```
 */
export async function loadYamlConfig(file: string): Promise<TaskSet> {
  return (await load(file)).set;
}

/**
 * Loads a YAML task file and validates it into a {@link Graph}; what {@link loadYamlConfig} then
 * `buildGraph` would give, but an unchanged file costs neither the parse nor the validation: the
 * cache keeps the tasks as the graph normalized them and the graph's shape.
 *
 * @throws {ConfigError} as {@link loadYamlConfig} and `buildGraph` do
 */
export async function loadYamlGraph(file: string): Promise<Graph> {
  const { set, parsed, cache, write } = await load(file);
  const cached = cache && graphFromShape(set, cache.shape);
  if (cached) return cached;
  const graph = buildGraph(set);
  const tasks = parsed.tasks.map((d) => {
    const t = graph.tasks.get(d.id)!;
    return { ...d, deps: [...t.deps!], inputs: [...t.inputs!], outputs: [...t.outputs!] };
  });
  write({ tasks, pools: parsed.pools }, graphShape(graph));
  return graph;
}

async function load(file: string): Promise<{
  set: TaskSet;
  parsed: YamlTasks;
  /** The cache entry for exactly this text, if any. */
  cache: ConfigCache | null;
  write: (parsed: YamlTasks, shape: GraphShape) => void;
}> {
  const abs = resolve(file);
  const root = dirname(abs);
  const source = readSource(file, abs);
  const cacheDir = kilnDir(root);
  const cachePath = join(cacheDir, "config-cache.json");
  const write = (parsed: YamlTasks, shape: GraphShape) =>
    writeCache(cacheDir, cachePath, { v: 2, file: abs, source, parsed, shape });
  const cache = readCache(cachePath, source);
  let parsed = cache?.parsed;
  if (!parsed) {
    const { parseYamlTasks } = await import("./yaml_parse.ts");
    parsed = await parseYamlTasks(source, file);
  }
  return { set: toSet(parsed, root, abs, source), parsed, cache, write };
}

function toSet(parsed: YamlTasks, root: string, abs: string, source: string): TaskSet {
  return {
    tasks: parsed.tasks.map(toTask),
    pools: parsed.pools,
    root,
    configId: yamlConfigId(abs, source),
  };
}
