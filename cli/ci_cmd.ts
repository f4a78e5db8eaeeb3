/**
 * `kiln ci matrix`: the OS templates of the task graph as a GitHub Actions matrix, so the
 * workflow's jobs come from the DAG rather than from a list copied by hand. Adding a distro to
 * the catalog adds a job.
 *
 * A template is a task `image:<distro>:compress` (the release folder of one distro). Templates
 * whose installer ISO the build makes itself (its `iso:<distro>:fetch` step depends on other
 * tasks: the offline demo) are left out unless `--targets` names them: there is nothing to
 * publish from them.
 *
 * @module
 */

import { ConfigError } from "../engine/failure.ts";
import type { Graph } from "../engine/graph.ts";
import { EXIT } from "./exit.ts";
import { loadGraph } from "./load.ts";

/** One job of the matrix. */
export interface MatrixEntry {
  /** The distro id, as in the catalog. */
  readonly distro: string;
  /** The task to build. */
  readonly target: string;
  /** A job name: the distro and its version. */
  readonly name: string;
  /** The target's declared outputs, one per line (an `upload-artifact` path). */
  readonly outputs: string;
}

/** A GitHub Actions matrix: `strategy.matrix: ${{ fromJSON(...) }}`. */
export interface CiMatrix {
  readonly include: MatrixEntry[];
}

const TEMPLATE = /^image:([^:]+):compress$/;

/** The distro of a template target, or `null` when `id` is not one. */
export function templateDistro(id: string): string | null {
  return TEMPLATE.exec(id)?.[1] ?? null;
}

/** True when the distro's ISO is made by the build (its fetch step has dependencies). */
function localUpstream(graph: Graph, distro: string): boolean {
  return (graph.deps.get(`iso:${distro}:fetch`)?.length ?? 0) > 0;
}

function entry(graph: Graph, target: string, distro: string): MatrixEntry {
  const task = graph.tasks.get(target)!;
  const version = task.params?.version;
  return {
    distro,
    target,
    name: typeof version === "string" ? `${distro} ${version}` : distro,
    outputs: (task.outputs ?? []).join("\n"),
  };
}

/**
 * The matrix of `graph`'s OS templates, sorted by distro, or of `targets` (task ids or distro
 * ids, in the order given) when any are named.
 *
 * @throws {ConfigError} when a target is not an OS template of the graph.
 * @example
 * ```ts
 * ciMatrix(await loadGraph(undefined));
 * // { include: [{ distro: "almalinux", target: "image:almalinux:compress",
 * //               name: "almalinux 9.8", outputs: "dist/images/almalinux" }, ...] }
 * ```
 */
export function ciMatrix(graph: Graph, targets: readonly string[] = []): CiMatrix {
  const all = graph.order
    .map((id) => ({ id, distro: templateDistro(id) }))
    .filter((t): t is { id: string; distro: string } => t.distro !== null);
  if (targets.length === 0) {
    const published = all.filter((t) => !localUpstream(graph, t.distro));
    published.sort((a, b) => a.distro < b.distro ? -1 : a.distro > b.distro ? 1 : 0);
    return { include: published.map((t) => entry(graph, t.id, t.distro)) };
  }
  const include: MatrixEntry[] = [];
  const seen = new Set<string>();
  for (const name of targets) {
    const t = all.find((t) => t.id === name || t.distro === name);
    if (!t) {
      const known = all.map((t) => t.id).join(", ") || "none";
      throw new ConfigError(
        `Target "${name}" is not an OS template; name an image:<distro>:compress task or a distro (known: ${known})`,
      );
    }
    if (!seen.has(t.id)) include.push(entry(graph, t.id, t.distro));
    seen.add(t.id);
  }
  return { include };
}

/** Splits `--targets` (space- or comma-separated; empty means every template). */
export function parseTargets(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter((s) => s !== "");
}

/** Flags of `kiln ci matrix`. */
export interface CiMatrixFlags {
  /** A YAML task file instead of the pipelines. */
  readonly file?: string;
  /** Only these templates (task or distro ids, space- or comma-separated). */
  readonly targets?: string;
  /** Print JSON: the default and only format, accepted for symmetry with other commands. */
  readonly json?: boolean;
}

/**
 * `kiln ci matrix [--targets IDS] [-f FILE] [--json]`: prints the matrix as one line of JSON on
 * stdout; returns the exit code. A bad target is a `ConfigError` (exit 2 through the CLI).
 *
 * @example
 * ```sh
 * echo "matrix=$(deno run -A build.ts ci matrix)" >> "$GITHUB_OUTPUT"
 * ```
 */
export async function ciMatrixCommand(
  flags: CiMatrixFlags,
  out: (text: string) => void = (s) => void Deno.stdout.writeSync(new TextEncoder().encode(s)),
): Promise<number> {
  const graph = await loadGraph(flags.file);
  out(JSON.stringify(ciMatrix(graph, parseTargets(flags.targets))) + "\n");
  return EXIT.ok;
}
