/**
 * Finds the task set a command works on: `--file PATH` (YAML), else `kiln.yaml` in the current
 * folder, else the TypeScript pipelines registered in `tasks/mod.ts`.
 *
 * @module
 */

import { buildGraph, type Graph } from "../engine/graph.ts";
import { localModuleClosure } from "../engine/module_closure.ts";
import { join } from "../engine/path.ts";
import { loadYamlGraph } from "../engine/yaml_config.ts";
import { PIPELINES_ROOT, tsConfigId, yamlTaskFile } from "./no_op.ts";

/**
 * Loads and validates the graph; throws `ConfigError` (exit 2) on bad configuration. `targets`
 * are what a build will build (`undefined` for commands that only look at the graph): the
 * pipelines prepare what only a release needs, such as a throwaway signing key, only for a build
 * that may reach a release task.
 */
export async function loadGraph(
  file: string | undefined,
  targets?: readonly string[],
): Promise<Graph> {
  const yaml = yamlTaskFile(file);
  if (yaml) return await loadYamlGraph(file ?? yaml);
  const entry = join(PIPELINES_ROOT, "tasks", "mod.ts");
  const { pipelines } = await import("../tasks/mod.ts");
  const set = await pipelines({
    release: targets !== undefined &&
      (targets.length === 0 || targets.some((t) => t.startsWith("release:"))),
  });
  // What the task set is made of, for the build stamp: the pipeline modules, the data files
  // they read, and the npm versions they resolve to.
  const configFiles = [
    ...localModuleClosure(entry),
    ...(set.configFiles ?? []),
    join(PIPELINES_ROOT, "deno.json"),
    join(PIPELINES_ROOT, "deno.lock"),
  ];
  return buildGraph({ ...set, configId: tsConfigId(set.root), configFiles });
}
