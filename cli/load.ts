/**
 * Finds the task set a command works on: `--file PATH` (YAML), else `kiln.yaml` in the current
 * folder, else the TypeScript pipelines registered in `tasks/mod.ts`.
 *
 * @module
 */

import { buildGraph, type Graph } from "../engine/graph.ts";
import { join } from "../engine/path.ts";
import { statFile } from "../engine/stat.ts";
import { loadYamlConfig } from "../engine/yaml_config.ts";

/** Loads and validates the graph; throws `ConfigError` (exit 2) on bad configuration. */
export async function loadGraph(file: string | undefined): Promise<Graph> {
  if (file) return buildGraph(await loadYamlConfig(file));
  const local = join(Deno.cwd(), "kiln.yaml");
  if (statFile(local)) return buildGraph(await loadYamlConfig(local));
  const { pipelines } = await import("../tasks/mod.ts");
  return buildGraph(pipelines());
}
