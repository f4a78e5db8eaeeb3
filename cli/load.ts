/**
 * Finds the task set a command works on: `--file PATH` (YAML), else `kiln.yaml` in the current
 * folder, else the TypeScript pipelines registered in `tasks/mod.ts`.
 *
 * @module
 */

import { buildGraph, type Graph } from "../engine/graph.ts";
import { yamlTaskFile } from "./no_op.ts";
import { loadYamlGraph } from "../engine/yaml_config.ts";

/** Loads and validates the graph; throws `ConfigError` (exit 2) on bad configuration. */
export async function loadGraph(file: string | undefined): Promise<Graph> {
  const yaml = yamlTaskFile(file);
  if (yaml) return await loadYamlGraph(file ?? yaml);
  const { pipelines } = await import("../tasks/mod.ts");
  return buildGraph(pipelines());
}
