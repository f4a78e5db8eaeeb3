/**
 * Random task graphs for the CLI end-to-end tests: a `kiln.yaml` of small shell tasks that sleep
 * a few milliseconds, with file outputs, folder outputs and outputs over 1 MiB (stored with a
 * seal, restored as read-only hard links).
 *
 * @module
 */

import type { Rng } from "./prng.ts";

/**
 * Commands rely on kiln to clear their outputs before they run; `KILN_E2E_STALE=0` makes them
 * clear their own, to tell a kiln bug from a test bug.
 */
export const STALE = Deno.env.get("KILN_E2E_STALE") !== "0";

const TRANSFORMS = ["cat", "sort", "tr a-z A-Z", "wc -c", "head -c 40", "rev", "tr -d 0-9"];

/** Random source text. */
export function sourceText(rng: Rng): string {
  let s = "";
  for (let i = rng.int(1, 5); i > 0; i--) {
    s += `line ${rng.int(0, 999)} ${rng.pick(["a", "B", "c"])}\n`;
  }
  return s;
}

/** Options for {@link randomGraph}. */
export interface GraphOptions {
  /** Task count range. */
  tasks: [number, number];
  /** Longest sleep of a task, in hundredths of a second (at most 9). */
  maxSleep?: number;
  /** Relative frequency of outputs over 1 MiB (default 1 in 10). */
  bigWeight?: number;
}

/** A random graph; returns kiln.yaml's text, the sources and the task count. */
export function randomGraph(
  rng: Rng,
  o: GraphOptions,
): { yaml: string; sources: Record<string, string>; tasks: number } {
  const sources: Record<string, string> = {};
  for (let i = 0; i < 10; i++) sources[`src/s${i}.txt`] = sourceText(rng);
  const n = rng.int(o.tasks[0], o.tasks[1]);
  const lines = ["tasks:"];
  const consumable: string[] = []; // ids whose output is one small file
  for (let i = 0; i < n; i++) {
    const id = `t${i}`;
    const deps = rng.sample(consumable, rng.int(0, Math.min(3, consumable.length)));
    const inputs = rng.sample(Object.keys(sources), deps.length ? rng.int(0, 2) : rng.int(1, 2));
    const files = [...inputs, ...deps.map((d) => `out/${d}.txt`)].join(" ");
    const sleep = `sleep 0.0${rng.int(Math.min(2, o.maxSleep ?? 9), o.maxSleep ?? 9)}`;
    const kind = rng.weighted([[8, "file"], [1, "dir"], [o.bigWeight ?? 1, "big"]] as const);
    let cmd: string, output: string;
    if (kind === "file") {
      output = `out/${id}.txt`;
      cmd = `${sleep}; cat ${files} | ${rng.pick(TRANSFORMS)} > ${output}`;
      consumable.push(id);
    } else if (kind === "dir") {
      output = `out/${id}`;
      cmd =
        `${sleep}; ${
          STALE ? "" : `rm -rf ${output} && `
        }mkdir -p ${output}/sub && cat ${files} > ` +
        `${output}/all.txt && cat ${files} | wc -l > ${output}/sub/count.txt`;
    } else {
      // Over LINK_THRESHOLD (1 MiB): stored with a seal, restored as a read-only hard link.
      // `rm -f` first: kiln does not clear outputs before an action, and `>` on a restored link
      // writes into the cache's blob (KILN_E2E_STALE=1 leaves it out to show that).
      output = `out/${id}.bin`;
      cmd = `${sleep}; ${STALE ? "" : `rm -f ${output}; `}{ cat ${files}; yes ${id} | ` +
        `head -c ${rng.int(1_100_000, 1_600_000)}; } > ${output}`;
    }
    lines.push(
      `  ${id}:`,
      `    cmd: ${JSON.stringify(cmd)}`,
      `    inputs: ${JSON.stringify(inputs)}`,
      `    deps: ${JSON.stringify(deps)}`,
      `    outputs: [${JSON.stringify(output)}]`,
    );
  }
  return { yaml: lines.join("\n") + "\n", sources, tasks: n };
}

/** Changes (or reverts) 0-3 sources, remembering every version in `history`. */
export function editSources(
  rng: Rng,
  history: Map<string, string[]>,
  write: (rel: string, text: string) => void,
  max = 3,
): string[] {
  const changed: string[] = [];
  for (let k = rng.int(0, max); k > 0; k--) {
    const p = rng.pick([...history.keys()]);
    const old = history.get(p)!;
    const next = old.length > 1 && rng.chance(0.3) ? rng.pick(old) : sourceText(rng);
    write(p, next);
    if (!old.includes(next)) old.push(next);
    changed.push(p);
  }
  return changed;
}
