/**
 * Seeded differential property test of incremental builds.
 *
 * Each case generates a random DAG of shell tasks (3-12 tasks; each concatenates some source
 * files, its dependencies' outputs and sometimes a declared env var, then pipes the result
 * through a transform such as `sort`, `wc -c` or `head -c 1`; several transforms map different
 * inputs to identical bytes, which exercises early cutoff). A quarter of the tasks output a
 * folder (copies of their inputs plus the transformed text) instead of one file; a few output
 * over 1 MiB (restored as read-only hard links to the cache's blobs). It builds once,
 * then applies random edits, each followed by an incremental build in the same workspace and
 * cache, and checks:
 *
 * (a) the outputs are byte-identical to a clean build of the same task file and sources in a
 *     fresh copy of the workspace with an empty cache;
 * (b) the tasks that did work (`ran` or `cached`) are exactly the minimal set given by a
 *     reference model that hashes files itself: a task works iff its command, declared env
 *     value, input contents or dependencies' OUTPUT bytes changed, or its own output was deleted
 *     or modified. The model also predicts `ran` versus `cached` (a key seen before restores,
 *     unless its blob was corrupted), and every other task must be `fresh` and left untouched.
 *
 * Edits: change, revert or re-create a source (in place or by rename), add or remove a file
 * matched by a glob input, touch a file or rewrite it with the same bytes, change or unset an env
 * value, delete or modify an output (or add a stray file to an output folder), corrupt a cache
 * blob and delete the output that restores from it, edit a task in kiln.yaml (command, deps,
 * inputs, env), or reformat kiln.yaml.
 *
 * The engine runs in-process as `kiln build` drives it (the build stamp's no-op check, else
 * `loadYamlConfig` + `buildGraph` + `runBuild` with a `LocalStore` and the `LocalProcessRunner`),
 * much faster than spawning the CLI per build; `KILN_PROPERTY_CLI=1` spawns the real CLI for
 * the incremental builds instead.
 *
 * Run:
 *   deno test -A test/e2e/property_test.ts                         # 60 cases x 4 edit rounds
 *   KILN_PROPERTY_CASES=500 deno test -A test/e2e/property_test.ts  # the big version
 *   KILN_PROPERTY_SEED=1234 KILN_PROPERTY_CASES=1 deno test -A test/e2e/property_test.ts
 *   KILN_PROPERTY_CLI=1 deno test -A test/e2e/property_test.ts      # through the real CLI
 *
 * `KILN_PROPERTY_SEED` is the seed of case 0 (case i uses seed + i); without it a random seed is
 * chosen and printed. `KILN_PROPERTY_EDITS` sets the edit rounds per case (default 4). A failing
 * case prints the seed that reproduces it alone, its task file and the edit history, and keeps
 * its workspace under test/.tmp/ for inspection. `KILN_PROPERTY_NO_STAMP=1` skips the build
 * stamp's no-op check in-process (every build takes the full path).
 *
 * Commands do not clear their own outputs: kiln must clear them before an action runs, so a
 * file left from an earlier run (a copy of a glob match since removed) must not survive, and a
 * big output restored as a hard link must not be written through into the cache.
 * `KILN_E2E_STALE=0` makes folder tasks `rm -rf` their folder and big-output tasks `rm -f`
 * their file first, to tell a kiln bug from a model bug.
 *
 * @module
 */

import { AssertionError } from "node:assert";
import { runBuild } from "../../engine/build.ts";
import { buildGraph } from "../../engine/graph.ts";
import { loadLibc } from "../../engine/libc.ts";
import { LocalStore } from "../../engine/store.ts";
import { verifyCache } from "../../engine/store_admin.ts";
import { checkStamp } from "../../engine/stamp.ts";
import { loadYamlConfig, yamlConfigId } from "../../engine/yaml_config.ts";
import { LocalProcessRunner } from "../../builders/local.ts";
import type { TaskOutcome } from "../../engine/events.ts";
import { intFromEnv, Rng, seedFromEnv } from "../rig/prng.ts";
import {
  describeRun,
  diffTrees,
  fileDigest,
  kiln,
  makeTmp,
  parseJson,
  removeTree,
  sha256,
  treeDigests,
} from "../rig/workspace.ts";

// Opened once per process and kept: load it outside any test so the sanitizer does not see it.
loadLibc();

const CASES = intFromEnv("KILN_PROPERTY_CASES", 60);
const EDIT_ROUNDS = intFromEnv("KILN_PROPERTY_EDITS", 4);
const SEED = seedFromEnv("KILN_PROPERTY_SEED");
const STALE = Deno.env.get("KILN_E2E_STALE") !== "0";
const CLI = Deno.env.get("KILN_PROPERTY_CLI") === "1";
const NO_STAMP = Deno.env.get("KILN_PROPERTY_NO_STAMP") === "1";

/** Transforms; several collapse different inputs to identical bytes (early cutoff). */
const TRANSFORMS = [
  "cat",
  "tr a-z A-Z",
  "sort",
  "sort -u",
  "wc -c",
  "wc -l",
  "head -c 1",
  "tr -d 0-9",
  "tail -n 2",
  "rev",
] as const;
const ENV_VARS = ["KP_A", "KP_B"] as const;
const ENV_VALUES = [undefined, "", "x", "y", "hello world", "42"] as const;
const WORDS = ["alpha", "beta", "gamma", "delta", "Echo", "fox", "golf", "HOTEL", "india", "zulu"];
const GLOB = "src/g*.txt";

interface TaskSpec {
  id: string;
  /** Source paths, or {@link GLOB}. */
  inputs: string[];
  deps: string[];
  env: string | null;
  transform: string;
  /** Outputs the folder `out/<id>` rather than the file `out/<id>.txt`. */
  folder: boolean;
  /** Its file output starts with 1.1 MB of filler (over the store's hard-link threshold). */
  big: boolean;
  /** A trailing comment: changes the command's text but not what it does. */
  tag: number;
}

type Status = "ran" | "cached" | "fresh";

interface Case {
  seed: number;
  rng: Rng;
  ws: string;
  cache: string;
  jobs: number;
  tasks: TaskSpec[];
  env: Map<string, string | undefined>;
  /** Every content each source file has had, for reverts. */
  history: Map<string, string[]>;
  /** How kiln.yaml is laid out (key order, comments); changed by cosmetic edits. */
  yamlStyle: number;
  // Reference model
  lastKey: Map<string, string>;
  lastOut: Map<string, string | null>;
  /** Model key -> output digest and blob digests of every result the cache holds. */
  cacheOut: Map<string, { out: string; blobs: string[] }>;
  /**
   * Blobs this test corrupted (digest -> whether the bad bytes kept the size) that kiln has not
   * replaced: a restore that finds one deletes it, and storing the same digest again replaces it
   * only when its size differs.
   */
  corrupt: Map<string, boolean>;
  log: string[];
  tmpDirs: string[];
}

const out = (t: TaskSpec) => (t.folder ? `out/${t.id}` : `out/${t.id}.txt`);

function command(c: Case, t: TaskSpec): string {
  const refs = t.deps.map((id) => {
    const d = c.tasks.find((x) => x.id === id)!;
    return d.folder ? `${out(d)}/*` : out(d);
  });
  const files = t.folder ? refs : [...t.inputs, ...refs];
  const parts = [];
  if (t.env) parts.push(`echo "$${t.env}"`);
  parts.push(files.length ? `cat ${files.join(" ")}` : "true");
  const tag = t.tag ? ` # rev ${t.tag}` : "";
  if (t.big) {
    return `${STALE ? "" : `rm -f ${out(t)} && `}{ yes ${t.id} | head -c 1100000; ` +
      `{ ${parts.join("; ")}; } | ${t.transform}; } > ${out(t)}${tag}`;
  }
  if (!t.folder) return `{ ${parts.join("; ")}; } | ${t.transform} > ${out(t)}${tag}`;
  return [
    ...(STALE ? [] : [`rm -rf ${out(t)}`]),
    `mkdir -p ${out(t)}`,
    ...(t.inputs.length ? [`cp ${t.inputs.join(" ")} ${out(t)}/`] : []),
    `{ ${parts.join("; ")}; } | ${t.transform} > ${out(t)}/_.txt${tag}`,
  ].join(" && ");
}

function yamlText(c: Case): string {
  const q = (s: string) => JSON.stringify(s);
  const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;
  const lines = ["# generated by test/e2e/property_test.ts", "tasks:"];
  for (const t of c.tasks) {
    const fields = [
      `    cmd: ${q(command(c, t))}`,
      t.inputs.length ? `    inputs: ${list(t.inputs)}` : "",
      t.deps.length ? `    deps: ${list(t.deps)}` : "",
      t.env ? `    env: [${t.env}]` : "",
      `    outputs: [${q(out(t))}]`,
    ].filter(Boolean);
    // Cosmetic variants: key order and comments do not change what a task is.
    if (c.yamlStyle % 2 === 1) fields.reverse();
    lines.push(`  ${t.id}:`, ...fields);
    if (c.yamlStyle >= 2) lines.push(`    # style ${c.yamlStyle}`);
  }
  return lines.join("\n") + "\n";
}

function randomContent(rng: Rng): string {
  const n = rng.int(1, 4);
  let s = "";
  for (let i = 0; i < n; i++) s += `${rng.pick(WORDS)} ${rng.int(0, 99)}\n`;
  return s;
}

const sourcePaths = (c: Case) => [...c.history.keys()].filter((p) => existsRel(c, p));
const plainSources = (c: Case) => sourcePaths(c).filter((p) => !/^src\/g/.test(p));
const globFiles = (c: Case) => sourcePaths(c).filter((p) => /^src\/g\d+\.txt$/.test(p)).sort();

const existsRel = (c: Case, rel: string) => exists(`${c.ws}/${rel}`);

function writeSource(c: Case, rel: string, content: string, how: "inplace" | "rename") {
  const abs = `${c.ws}/${rel}`;
  if (how === "rename") {
    Deno.writeTextFileSync(`${abs}.new`, content);
    Deno.renameSync(`${abs}.new`, abs);
  } else Deno.writeTextFileSync(abs, content);
  const h = c.history.get(rel) ?? [];
  if (!h.includes(content)) h.push(content);
  c.history.set(rel, h);
}

function generate(seed: number, ws: string, cache: string): Case {
  const rng = new Rng(seed);
  const c: Case = {
    seed,
    rng,
    ws,
    cache,
    jobs: rng.int(1, 4),
    tasks: [],
    env: new Map(),
    history: new Map(),
    yamlStyle: 0,
    lastKey: new Map(),
    lastOut: new Map(),
    cacheOut: new Map(),
    corrupt: new Map(),
    log: [],
    tmpDirs: [],
  };
  Deno.mkdirSync(`${ws}/src`, { recursive: true });
  const nSrc = rng.int(2, 5);
  for (let i = 0; i < nSrc; i++) writeSource(c, `src/s${i}.txt`, randomContent(rng), "inplace");
  const nGlob = rng.int(1, 3);
  for (let i = 0; i < nGlob; i++) writeSource(c, `src/g${i}.txt`, randomContent(rng), "inplace");
  for (const v of ENV_VARS) c.env.set(v, rng.pick(ENV_VALUES));

  const n = rng.int(3, 12);
  const sources = [...plainSources(c), GLOB];
  for (let i = 0; i < n; i++) {
    const earlier = c.tasks.filter((t) => !t.big).map((t) => t.id); // nobody reads big ones
    const deps = i === 0 ? [] : rng.sample(earlier, rng.weighted([[3, 1], [3, 2], [1, 3], [1, 0]]));
    const nIn = deps.length === 0 ? rng.int(1, 3) : rng.int(0, 2);
    c.tasks.push({
      id: `t${i}`,
      inputs: rng.sample(sources, nIn),
      deps,
      env: rng.chance(0.3) ? rng.pick(ENV_VARS) : null,
      transform: rng.pick(TRANSFORMS),
      folder: false,
      big: false,
      tag: 0,
    });
    const kind = rng.weighted([[13, "file"], [5, "folder"], [2, "big"]] as const);
    c.tasks[i].folder = kind === "folder";
    c.tasks[i].big = kind === "big";
  }
  Deno.writeTextFileSync(`${ws}/kiln.yaml`, yamlText(c));
  return c;
}

// ---------------------------------------------------------------------------------------------
// The reference model

/** The input files a task reads now (its glob expanded, like the shell does). */
function inputFiles(c: Case, t: TaskSpec): string[] {
  return t.inputs.flatMap((p) => (p === GLOB ? globFiles(c) : [p])).sort();
}

/** What the task's result depends on, by content: equal keys mean the same result. */
function modelKey(c: Case, t: TaskSpec, outputs: ReadonlyMap<string, string | null>): string {
  return JSON.stringify({
    id: t.id,
    cmd: command(c, t),
    env: t.env ? [t.env, c.env.get(t.env) ?? null] : null,
    inputs: inputFiles(c, t).map((p) => [p, fileDigest(`${c.ws}/${p}`)]),
    deps: [...t.deps].sort().map((d) => [d, outputs.get(d)]),
  });
}

function exists(abs: string): boolean {
  try {
    Deno.lstatSync(abs);
    return true;
  } catch {
    return false;
  }
}

/** Digest of a task's output as the workspace holds it (`null` when absent). */
function outputDigest(c: Case, t: TaskSpec, ws = c.ws): string | null {
  if (!t.folder) return fileDigest(`${ws}/${out(t)}`);
  if (!exists(`${ws}/${out(t)}`)) return null;
  return sha256(JSON.stringify([...treeDigests(ws, out(t))]));
}

/** Digests of the blobs that hold a task's output. */
function outputBlobs(c: Case, t: TaskSpec): string[] {
  if (!t.folder) return [fileDigest(`${c.ws}/${out(t)}`)!];
  return [...treeDigests(c.ws, out(t)).values()];
}

/** Output files of a task, workspace-relative. */
function outputFiles(c: Case, t: TaskSpec): string[] {
  if (!t.folder) return exists(`${c.ws}/${out(t)}`) ? [out(t)] : [];
  return [...treeDigests(c.ws, out(t)).keys()];
}

/** Every output file in the workspace, workspace-relative. */
function allOutputFiles(c: Case): string[] {
  return c.tasks.flatMap((t) => outputFiles(c, t));
}

/** Identity (inode, times) of every output file: unchanged when kiln leaves the output alone. */
function outputIdentity(c: Case, t: TaskSpec): string {
  return JSON.stringify(
    outputFiles(c, t).map((p) => {
      const s = Deno.statSync(`${c.ws}/${p}`);
      return [p, s.ino, s.mtime?.getTime(), s.birthtime?.getTime()];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Building

interface BuildResult {
  summary: { outcomes: TaskOutcome[]; interrupted: boolean };
  warnings: string[];
  /** True when the build stamp answered (no graph, state or fingerprints). */
  stamped: boolean;
}

/**
 * One build, the way `kiln build` does it: the build stamp first (a no-op recognized by stat
 * alone), else the full build. `KILN_PROPERTY_CLI=1` runs the real CLI instead.
 */
async function build(c: Case, ws: string, cache: string, jobs: number): Promise<BuildResult> {
  if (CLI) return await buildCli(c, ws, cache, jobs);
  const file = `${ws}/kiln.yaml`;
  const stamped = NO_STAMP ? null : checkStamp(
    ws,
    { config: yamlConfigId(file, Deno.readTextFileSync(file)), targets: [] },
    (name) => c.env.get(name),
  );
  if (stamped) {
    const outcomes = stamped.map((id) => ({
      id,
      status: "fresh" as const,
      durationMs: 0,
      reasons: [],
    }));
    return { summary: { outcomes, interrupted: false }, warnings: [], stamped: true };
  }
  const warnings: string[] = [];
  const graph = buildGraph(await loadYamlConfig(file));
  const summary = await runBuild(graph, {
    targets: [],
    jobs,
    keepGoing: false,
    store: new LocalStore(cache),
    runner: new LocalProcessRunner(),
    env: (name) => c.env.get(name),
    reporter: { warn: (m) => warnings.push(m) },
  });
  return { summary, warnings, stamped: false };
}

async function buildCli(c: Case, ws: string, cache: string, jobs: number): Promise<BuildResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of c.env) if (v !== undefined) env[k] = v;
  const r = await kiln(["build", "--file", `${ws}/kiln.yaml`, "--json", "-j", `${jobs}`], {
    cacheDir: cache,
    env,
  });
  if (r.code !== 0) fail(c, "kiln build failed", [describeRun(r)]);
  const outcomes = parseJson(r).tasks.map((t) => ({
    id: t.id,
    status: t.status as TaskOutcome["status"],
    durationMs: t.durationMs,
    reasons: [],
  }));
  const warnings = r.stderr.split("\n").filter((l) => /^warning:/.test(l));
  return { summary: { outcomes, interrupted: false }, warnings, stamped: false };
}

async function cleanBuildDigests(c: Case): Promise<{ dir: string; digests: Map<string, string> }> {
  const dir = await makeTmp("prop-clean-");
  c.tmpDirs.push(dir);
  Deno.mkdirSync(`${dir}/src`);
  for (const p of sourcePaths(c)) Deno.copyFileSync(`${c.ws}/${p}`, `${dir}/${p}`);
  Deno.copyFileSync(`${c.ws}/kiln.yaml`, `${dir}/kiln.yaml`);
  const { summary, warnings } = await build(c, dir, `${dir}/.empty-cache`, 2);
  const notRan = summary.outcomes.filter((o) => o.status !== "ran");
  if (notRan.length || warnings.length) {
    fail(c, "the clean build did not simply run every task", [
      ...notRan.map(describeOutcome),
      ...warnings,
    ]);
  }
  return { dir, digests: treeDigests(dir, "out") };
}

function describeOutcome(o: TaskOutcome): string {
  const extra = [
    o.reasons.length ? `reasons: ${o.reasons.join("; ")}` : "",
    o.failure ? `failure: ${o.failure.message}` : "",
    o.notCached ? `not cached: ${o.notCached}` : "",
  ].filter(Boolean);
  return `${o.id}: ${o.status}${extra.length ? ` (${extra.join("; ")})` : ""}`;
}

function fail(c: Case, what: string, details: string[]): never {
  const msg = [
    `kiln property failure (case seed ${c.seed}; master seed ${SEED}): ${what}`,
    ...details.map((d) => `  ${d}`),
    `reproduce: ${STALE ? "" : "KILN_E2E_STALE=0 "}KILN_PROPERTY_SEED=${c.seed} ` +
    `KILN_PROPERTY_CASES=1 ` +
    `KILN_PROPERTY_EDITS=${EDIT_ROUNDS} deno test -A test/e2e/property_test.ts`,
    `workspace kept at ${c.ws} (cache ${c.cache}), jobs ${c.jobs}`,
    `env: ${JSON.stringify(Object.fromEntries(c.env))}`,
    "history:",
    ...c.log.map((l) => `  ${l}`),
    "kiln.yaml:",
    Deno.readTextFileSync(`${c.ws}/kiln.yaml`),
  ].join("\n");
  throw new AssertionError({ message: msg });
}

/**
 * One incremental build plus both checks. `step` names it in messages. A `settle` build follows
 * no edit: the model expects it all fresh, and its outputs were already compared.
 */
async function buildAndCheck(
  c: Case,
  step: string,
  totals: Record<string, number>,
  settle = false,
) {
  const pre = new Map<string, string | null>();
  const preId = new Map<string, string>();
  for (const t of c.tasks) {
    pre.set(t.id, outputDigest(c, t));
    preId.set(t.id, outputIdentity(c, t));
  }
  const { summary, warnings, stamped } = await build(c, c.ws, c.cache, c.jobs);
  if (stamped) totals["stamped builds"] = (totals["stamped builds"] ?? 0) + 1;
  const post = new Map<string, string | null>();
  for (const t of c.tasks) post.set(t.id, outputDigest(c, t));
  const got = new Map(summary.outcomes.map((o) => [o.id, o]));

  // (b) the reference model, in topological order (deps are always earlier tasks).
  const expected = new Map<string, Status>();
  const problems: string[] = [];
  const corruptFixed: string[] = [];
  for (const t of c.tasks) {
    const key = modelKey(c, t, post);
    const works = key !== c.lastKey.get(t.id) || pre.get(t.id) !== c.lastOut.get(t.id);
    let want: Status = "fresh";
    if (works) {
      const known = c.cacheOut.get(key);
      const bad = known ? known.blobs.filter((b) => c.corrupt.has(b)) : [];
      want = known !== undefined && bad.length === 0 ? "cached" : "ran";
      corruptFixed.push(...bad);
      if (known !== undefined && post.get(t.id) !== known.out) {
        problems.push(`${t.id}: same inputs as an earlier result but different output bytes`);
      }
    }
    expected.set(t.id, want);
    const o = got.get(t.id);
    if (!o || o.status !== want) {
      problems.push(
        `${t.id}: expected ${want}, got ${o ? describeOutcome(o) : "no outcome"}` +
          ` [output ${short(pre.get(t.id))} -> ${short(post.get(t.id))}]`,
      );
    }
    if (want === "fresh" && o?.status === "fresh") {
      if (preId.get(t.id) !== outputIdentity(c, t)) {
        problems.push(`${t.id}: reported fresh but its output file was replaced`);
      }
    }
    c.lastKey.set(t.id, key);
    c.lastOut.set(t.id, post.get(t.id)!);
    if (post.get(t.id) === null) problems.push(`${t.id}: output missing after the build`);
    else c.cacheOut.set(key, { out: post.get(t.id)!, blobs: outputBlobs(c, t) });
  }
  for (const d of corruptFixed) c.corrupt.delete(d);
  for (const t of c.tasks) {
    if (got.get(t.id)?.status !== "ran") continue;
    for (const b of outputBlobs(c, t)) if (c.corrupt.get(b) === false) c.corrupt.delete(b);
  }
  if (summary.interrupted) problems.push("build reports interrupted");
  if (warnings.length && corruptFixed.length === 0) {
    problems.push(...warnings.map((w) => `unexpected warning: ${w}`));
  }
  for (const o of summary.outcomes) totals[o.status] = (totals[o.status] ?? 0) + 1;
  if (problems.length) {
    const all = c.tasks.map((t) => `${t.id}=${got.get(t.id)?.status}/${expected.get(t.id)}`);
    fail(c, `${step}: statuses differ from the reference model`, [
      ...problems,
      `actual/expected: ${all.join(" ")}`,
      stamped
        ? "the build stamp answered this build (no graph, state or fingerprints were consulted)"
        : "a full build (the build stamp did not apply)",
    ]);
  }

  if (settle) return;
  // (a) outputs equal a clean build's.
  const clean = await cleanBuildDigests(c);
  const mine = treeDigests(c.ws, "out");
  const diff = diffTrees(mine, clean.digests, {
    actual: (p) => Deno.readTextFileSync(`${c.ws}/${p}`),
    expected: (p) => Deno.readTextFileSync(`${clean.dir}/${p}`),
  });
  if (diff.length) fail(c, `${step}: outputs differ from a clean build`, diff);
  await removeTree(clean.dir);
  c.tmpDirs = c.tmpDirs.filter((d) => d !== clean.dir);
}

const short = (d: string | null | undefined) => (d ? d.slice(0, 8) : String(d));

// ---------------------------------------------------------------------------------------------
// Edits

type EditKind =
  | "content"
  | "revert"
  | "glob-add"
  | "glob-remove"
  | "touch"
  | "same-bytes"
  | "env"
  | "delete-output"
  | "modify-output"
  | "corrupt-blob"
  | "yaml-task"
  | "yaml-cosmetic";

const EDIT_WEIGHTS: [number, EditKind][] = [
  [6, "content"],
  [2, "revert"],
  [1, "glob-add"],
  [1, "glob-remove"],
  [2, "touch"],
  [1, "same-bytes"],
  [2, "env"],
  [2, "delete-output"],
  [1, "modify-output"],
  [2, "corrupt-blob"],
  [3, "yaml-task"],
  [1, "yaml-cosmetic"],
];

function mutateContent(rng: Rng, s: string): string {
  const kind = rng.pick(["digit", "case", "append", "replace", "drop-line"]);
  const idx = (re: RegExp) => [...s.matchAll(re)].map((m) => m.index!);
  if (kind === "digit") {
    const at = idx(/[0-9]/g);
    if (at.length) {
      const i = rng.pick(at);
      const d = String((Number(s[i]) + rng.int(1, 9)) % 10);
      return s.slice(0, i) + d + s.slice(i + 1);
    }
  }
  if (kind === "case") {
    const at = idx(/[A-Za-z]/g);
    if (at.length) {
      const i = rng.pick(at);
      const ch = s[i] === s[i].toLowerCase() ? s[i].toUpperCase() : s[i].toLowerCase();
      return s.slice(0, i) + ch + s.slice(i + 1);
    }
  }
  if (kind === "drop-line") {
    const lines = s.split("\n").filter(Boolean);
    if (lines.length > 1) {
      lines.splice(rng.int(0, lines.length - 1), 1);
      return lines.join("\n") + "\n";
    }
  }
  if (kind === "append") return s + `${rng.pick(WORDS)} ${rng.int(0, 99)}\n`;
  let r = randomContent(rng);
  while (r === s) r = randomContent(rng);
  return r;
}

/** Applies one edit of `kind`; returns its description, or null when it does not apply. */
/**
 * Corrupts the inline copy of content `digest` in the action entry that task `id` would be
 * restored from (its last key in the workspace state); returns whether the corruption kept the
 * size, or `undefined` when that entry does not inline it.
 */
function corruptInline(
  ws: string,
  cache: string,
  id: string,
  digest: string,
  same: boolean,
): boolean | undefined {
  const key = JSON.parse(Deno.readTextFileSync(`${ws}/.kiln/state.json`)).tasks[id]?.key;
  if (!key) return undefined;
  const path = `${cache}/ac/${key.slice(0, 2)}/${key}`;
  const entry = JSON.parse(Deno.readTextFileSync(path));
  let found: boolean | undefined;
  for (const f of entry.outputs.files) {
    const text = entry.inline?.[f.path];
    if (f.digest !== digest || text === undefined) continue;
    const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
    const keep = same && bytes.length > 0;
    const bad = keep ? bytes.map((b) => b ^ 1) : new TextEncoder().encode("corrupt!\n");
    entry.inline[f.path] = btoa(String.fromCharCode(...bad));
    found = keep;
  }
  if (found !== undefined) {
    Deno.chmodSync(path, 0o644);
    Deno.writeTextFileSync(path, JSON.stringify(entry));
  }
  return found;
}

function applyEdit(c: Case, kind: EditKind): string | null {
  const rng = c.rng;
  const how = rng.chance(0.3) ? "rename" : "inplace";
  switch (kind) {
    case "content": {
      const p = rng.pick(sourcePaths(c));
      const before = Deno.readTextFileSync(`${c.ws}/${p}`);
      let after = mutateContent(rng, before);
      if (after === before) after = before + "x\n";
      writeSource(c, p, after, how);
      return `content ${p} (${how}): ${JSON.stringify(before)} -> ${JSON.stringify(after)}`;
    }
    case "revert": {
      const options = sourcePaths(c).filter((p) => c.history.get(p)!.length > 1);
      if (!options.length) return null;
      const p = rng.pick(options);
      const now = Deno.readTextFileSync(`${c.ws}/${p}`);
      const old = rng.pick(c.history.get(p)!.filter((h) => h !== now));
      writeSource(c, p, old, how);
      return `revert ${p} (${how}) to ${JSON.stringify(old)}`;
    }
    case "glob-add": {
      const have = new Set(globFiles(c));
      const free = [0, 1, 2, 3, 4].map((i) => `src/g${i}.txt`).filter((p) => !have.has(p));
      if (!free.length) return null;
      const p = rng.pick(free);
      const content = c.history.has(p) && rng.chance(0.5)
        ? rng.pick(c.history.get(p)!)
        : randomContent(rng);
      writeSource(c, p, content, how);
      return `add ${p}: ${JSON.stringify(content)}`;
    }
    case "glob-remove": {
      const files = globFiles(c);
      if (files.length < 2) return null; // keep one, so `cat src/g*.txt` has something to read
      const p = rng.pick(files);
      Deno.removeSync(`${c.ws}/${p}`);
      return `remove ${p}`;
    }
    case "touch": {
      const p = rng.pick([...sourcePaths(c), ...allOutputFiles(c), "kiln.yaml"]);
      const t = new Date(Date.now() + rng.int(-100_000, 100_000));
      Deno.utimeSync(`${c.ws}/${p}`, t, t);
      return `touch ${p} (mtime ${t.toISOString()})`;
    }
    case "same-bytes": {
      const p = rng.pick([...sourcePaths(c), ...allOutputFiles(c), "kiln.yaml"]);
      const bytes = Deno.readFileSync(`${c.ws}/${p}`);
      if (how === "rename") {
        Deno.writeFileSync(`${c.ws}/${p}.new`, bytes);
        Deno.renameSync(`${c.ws}/${p}.new`, `${c.ws}/${p}`);
      } else Deno.writeFileSync(`${c.ws}/${p}`, bytes);
      return `rewrite ${p} with the same bytes (${how})`;
    }
    case "env": {
      const v = rng.pick(ENV_VARS);
      const before = c.env.get(v);
      const options = ENV_VALUES.filter((x) => x !== before);
      const after = rng.pick(options);
      c.env.set(v, after);
      return `env ${v}: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`;
    }
    case "delete-output": {
      const withOutput = c.tasks.filter((x) => outputFiles(c, x).length);
      if (!withOutput.length) return null;
      const t = rng.pick(withOutput);
      const p = t.folder && rng.chance(0.5) ? rng.pick(outputFiles(c, t)) : out(t);
      Deno.removeSync(`${c.ws}/${p}`, { recursive: true });
      return `delete ${p}`;
    }
    case "modify-output": {
      const withOutput = c.tasks.filter((x) => outputFiles(c, x).length);
      if (!withOutput.length) return null;
      const t = rng.pick(withOutput);
      if (t.folder && rng.chance(0.3)) {
        Deno.writeTextFileSync(`${c.ws}/${out(t)}/stray.txt`, "stray\n");
        return `add ${out(t)}/stray.txt`;
      }
      const p = rng.pick(outputFiles(c, t));
      const bytes = Deno.readFileSync(`${c.ws}/${p}`);
      const same = bytes.length > 0 && rng.chance(0.5);
      // A restored big output is a read-only hard link to its blob; as root, writing to it
      // alters the blob, which kiln must notice (by its seal) before serving it again.
      if ((Deno.statSync(`${c.ws}/${p}`).nlink ?? 1) > 1) c.corrupt.set(sha256(bytes), same);
      const garbage = same
        ? bytes.map((b) => b ^ 0x20) // same size, different bytes
        : new TextEncoder().encode("garbage\n");
      Deno.writeFileSync(`${c.ws}/${p}`, garbage);
      return `modify ${p} (${same ? "same size" : "other size"})`;
    }
    case "corrupt-blob": {
      // Exclusive and first in its round: the workspace holds what the last build left.
      const t = rng.pick(c.tasks);
      const file = rng.pick(outputFiles(c, t));
      const digest = fileDigest(`${c.ws}/${file}`)!;
      const blob = `${c.cache}/cas/${digest.slice(0, 2)}/${digest}`;
      const same = rng.chance(0.5);
      let inlined;
      try {
        Deno.statSync(blob);
      } catch {
        // Small outputs live inline in their action entries: corrupt every copy there.
        inlined = corruptInline(c.ws, c.cache, t.id, digest, same);
      }
      if (inlined !== undefined) {
        Deno.removeSync(`${c.ws}/${out(t)}`, { recursive: true });
        c.corrupt.set(digest, inlined);
        return `corrupt inline content ${digest.slice(0, 12)} of ${file} in its entries ` +
          `and delete ${out(t)}`;
      }
      const bytes = Deno.readFileSync(blob);
      if (sha256(bytes) !== digest) throw new Error(`blob ${blob} was not intact before the edit`);
      const bad = same && bytes.length > 0
        ? bytes.map((b) => b ^ 1)
        : new TextEncoder().encode("corrupt!\n");
      Deno.chmodSync(blob, 0o644);
      Deno.writeFileSync(blob, bad);
      if (rng.chance(0.5)) Deno.chmodSync(blob, 0o444);
      Deno.removeSync(`${c.ws}/${out(t)}`, { recursive: true });
      c.corrupt.set(digest, same && bytes.length > 0);
      return `corrupt blob ${digest.slice(0, 12)} of ${file} (${same ? "same" : "other"} size) ` +
        `and delete ${out(t)}`;
    }
    case "yaml-task": {
      const t = rng.pick(c.tasks);
      const i = c.tasks.indexOf(t);
      const change = rng.pick(["transform", "tag", "env", "dep", "input"]);
      let what = "";
      if (change === "transform") {
        const before = t.transform;
        t.transform = rng.pick(TRANSFORMS.filter((x) => x !== before));
        what = `transform ${before} -> ${t.transform}`;
      } else if (change === "tag") {
        t.tag++;
        what = `comment in cmd -> rev ${t.tag}`;
      } else if (change === "env") {
        const before = t.env;
        t.env = rng.pick([null, ...ENV_VARS].filter((x) => x !== before));
        what = `env ${before} -> ${t.env}`;
      } else if (change === "dep") {
        const others = c.tasks.slice(0, i).filter((x) => !x.big).map((x) => x.id)
          .filter((id) => !t.deps.includes(id));
        if (t.deps.length && (rng.chance(0.5) || !others.length)) {
          if (t.deps.length === 1 && t.inputs.length === 0) return null;
          const d = rng.pick(t.deps);
          t.deps = t.deps.filter((x) => x !== d);
          what = `remove dep ${d}`;
        } else {
          if (!others.length) return null;
          const d = rng.pick(others);
          t.deps = [...t.deps, d];
          what = `add dep ${d}`;
        }
      } else {
        const others = [...plainSources(c), GLOB].filter((p) => !t.inputs.includes(p));
        if (t.inputs.length && (rng.chance(0.5) || !others.length)) {
          if (t.inputs.length === 1 && t.deps.length === 0) return null;
          const p = rng.pick(t.inputs);
          t.inputs = t.inputs.filter((x) => x !== p);
          what = `remove input ${p}`;
        } else {
          if (!others.length) return null;
          const p = rng.pick(others);
          t.inputs = [...t.inputs, p];
          what = `add input ${p}`;
        }
      }
      Deno.writeTextFileSync(`${c.ws}/kiln.yaml`, yamlText(c));
      return `kiln.yaml: ${t.id}: ${what}`;
    }
    case "yaml-cosmetic": {
      c.yamlStyle = (c.yamlStyle + rng.int(1, 3)) % 4;
      Deno.writeTextFileSync(`${c.ws}/kiln.yaml`, yamlText(c));
      return `kiln.yaml reformatted (style ${c.yamlStyle})`;
    }
  }
}

/** Edits that must be alone in their round (the model of a corrupt blob assumes it). */
const EXCLUSIVE = new Set<EditKind>(["corrupt-blob"]);

async function runCase(seed: number, totals: Record<string, number>) {
  const ws = await makeTmp("prop-ws-");
  const cache = `${ws}-cache`;
  const c = generate(seed, ws, cache);
  c.log.push(`initial build (jobs ${c.jobs}, ${c.tasks.length} tasks)`);
  await buildAndCheck(c, "initial build", totals);
  for (let round = 1; round <= EDIT_ROUNDS; round++) {
    // No-op builds first, half the time: the first writes the build stamp once the files it
    // lists are older than the stamp, so the edit below often lands on a stamped workspace.
    for (let k = c.rng.chance(0.5) ? c.rng.int(1, 2) : 0; k > 0; k--) {
      c.log.push(`round ${round}: no-op build`);
      await buildAndCheck(c, `round ${round}, no-op build`, totals, true);
    }
    const n = c.rng.chance(0.25) ? 2 : 1;
    const done: string[] = [];
    for (let tries = 0; done.length < n && tries < 20; tries++) {
      const kind = c.rng.weighted(EDIT_WEIGHTS);
      if (done.length > 0 && EXCLUSIVE.has(kind)) continue;
      const d = applyEdit(c, kind);
      if (d === null) continue;
      done.push(d);
      totals[`edit:${kind}`] = (totals[`edit:${kind}`] ?? 0) + 1;
      if (EXCLUSIVE.has(kind)) break;
    }
    c.log.push(`round ${round}: ${done.join(" + ")}`);
    await buildAndCheck(c, `round ${round}`, totals);
  }
  // The cache holds nothing corrupt or dangling but what the test corrupted and kiln had no
  // reason to look at since (written through a hard link, then never restored).
  const report = await verifyCache(cache);
  const usesCorrupt = (key: string) => {
    const e = JSON.parse(Deno.readTextFileSync(`${cache}/ac/${key.slice(0, 2)}/${key}`));
    return e.outputs.files.some((f: { digest: string }) => c.corrupt.has(f.digest));
  };
  const badBlobs = report.corruptBlobs.filter((d) => !c.corrupt.has(d));
  const badEntries = report.brokenEntries.filter((k) => !usesCorrupt(k));
  if (badBlobs.length || badEntries.length) {
    fail(c, "cache verify found problems after the case", [
      `corrupt blobs: ${badBlobs.join(", ")}`,
      `broken entries: ${badEntries.join(", ")}`,
      `blobs the test corrupted: ${[...c.corrupt.keys()].join(", ")}`,
    ]);
  }
  await removeTree(ws);
  await removeTree(cache);
}

Deno.test({
  name: `property: incremental builds equal clean builds and rerun the minimal set (seed ${SEED})`,
  async fn() {
    const totals: Record<string, number> = {};
    const t0 = performance.now();
    for (let i = 0; i < CASES; i++) {
      const seed = (SEED + i) >>> 0;
      try {
        await runCase(seed, totals);
      } catch (e) {
        if (!(e instanceof AssertionError)) {
          console.error(
            `kiln property test crashed in case seed ${seed} (master seed ${SEED}); reproduce: ` +
              `KILN_PROPERTY_SEED=${seed} KILN_PROPERTY_CASES=1 deno test -A ${"test/e2e/property_test.ts"}`,
          );
        }
        throw e;
      }
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const edits = Object.entries(totals).filter(([k]) => k.startsWith("edit:"));
    const statuses = Object.entries(totals).filter(([k]) => !k.startsWith("edit:"));
    console.log(
      `seed ${SEED}: ${CASES} cases x ${EDIT_ROUNDS} rounds in ${secs}s; statuses ${
        JSON.stringify(Object.fromEntries(statuses))
      }; edits ${JSON.stringify(Object.fromEntries(edits))}`,
    );
  },
});

// ---------------------------------------------------------------------------------------------
// Counterexamples this test found, shrunk to a few steps through the real CLI: regression tests.

/** A workspace with `files`, and a `kiln build --json` of it against its own cache. */
async function cliWorkspace(files: Record<string, string>) {
  const ws = await makeTmp("prop-bug-");
  for (const [rel, text] of Object.entries(files)) {
    Deno.mkdirSync(`${ws}/${rel}`.replace(/\/[^/]*$/, ""), { recursive: true });
    Deno.writeTextFileSync(`${ws}/${rel}`, text);
  }
  const cacheDir = `${ws}/.cache`;
  const build = async () => {
    const r = await kiln(["build", "--file", `${ws}/kiln.yaml`, "--json"], { cacheDir });
    if (r.code !== 0) throw new AssertionError({ message: describeRun(r) });
    return parseJson(r).tasks.map((t) => t.status).join(",");
  };
  return { ws, cacheDir, build };
}

Deno.test({
  name: "regression: a restore after a fingerprint change leaves the outputs out of the stamp",
  async fn() {
    const { ws, build } = await cliWorkspace({
      "kiln.yaml": "tasks:\n  a:\n    cmd: cat src/in.txt > out/a.txt\n" +
        "    inputs: [src/in.txt]\n    outputs: [out/a.txt]\n",
      "src/in.txt": "one\n",
    });
    await build();
    Deno.writeTextFileSync(`${ws}/src/in.txt`, "two\n");
    await build();
    Deno.writeTextFileSync(`${ws}/src/in.txt`, "one\n");
    await new Promise((r) => setTimeout(r, 50)); // so the stamp is not dropped as racy
    if ((await build()) !== "cached") throw new Error("setup: expected a restore");
    Deno.writeTextFileSync(`${ws}/out/a.txt`, "garbage\n");
    const status = await build();
    const now = Deno.readTextFileSync(`${ws}/out/a.txt`);
    if (status !== "cached" || now !== "one\n") {
      throw new AssertionError({
        message: `edited output: got ${status} and ${JSON.stringify(now)}, want cached and "one"`,
      });
    }
    await removeTree(ws);
  },
});

Deno.test({
  name: "regression: outputs are not cleared before an action runs (stale files are cached)",
  async fn() {
    const { ws, build } = await cliWorkspace({
      "kiln.yaml": "tasks:\n  copy:\n    cmd: mkdir -p out/d && cp src/*.txt out/d/\n" +
        '    inputs: ["src/*.txt"]\n    outputs: [out/d]\n',
      "src/a.txt": "a\n",
      "src/b.txt": "b\n",
    });
    await build();
    Deno.removeSync(`${ws}/src/b.txt`);
    await build();
    const files = [...Deno.readDirSync(`${ws}/out/d`)].map((e) => e.name).sort();
    if (files.join() !== "a.txt") {
      throw new AssertionError({ message: `out/d holds ${files}; a clean build has only a.txt` });
    }
    await removeTree(ws);
  },
});

Deno.test({
  name: "regression: rerunning a task whose big output was restored writes into the cache",
  async fn() {
    const { ws, cacheDir, build } = await cliWorkspace({
      "kiln.yaml": "tasks:\n  big:\n" +
        '    cmd: "{ yes x | head -c 1200000; cat src/a.txt; } > out/big.bin"\n' +
        "    inputs: [src/a.txt]\n    outputs: [out/big.bin]\n",
      "src/a.txt": "one\n",
    });
    await build();
    Deno.removeSync(`${ws}/out/big.bin`);
    if ((await build()) !== "cached") throw new Error("setup: expected a restore");
    Deno.writeTextFileSync(`${ws}/src/a.txt`, "two\n");
    await build(); // reruns; its `>` opens the read-only hard link to the blob
    const report = await verifyCache(cacheDir);
    if (report.corruptBlobs.length) {
      throw new AssertionError({ message: `an ordinary rebuild corrupted ${report.corruptBlobs}` });
    }
    await removeTree(ws);
  },
});
