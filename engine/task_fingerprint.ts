/**
 * Computes a task's fingerprint from the workspace: expands input globs, digests input files
 * (through the digest cache), reads declared env values and tool versions, and takes its
 * dependencies' output digests.
 *
 * @module
 */

import type { DigestCache } from "./digest_cache.ts";
import { type Failure, failure } from "./failure.ts";
import { type DigestList, type Fingerprint, makeFingerprint, secretDigest } from "./fingerprint.ts";
import { expandGlob, type SeenDirs } from "./glob.ts";
import type { Graph } from "./graph.ts";
import { localModuleClosure } from "./module_closure.ts";
import { isWithin, join } from "./path.ts";
import { type FileStat, statFile } from "./stat.ts";
import type { Task } from "./task.ts";
import type { ToolVersions } from "./tools.ts";

/** A fingerprint plus the stat of every input file it read, for the after-action re-check. */
export interface TaskFingerprint {
  readonly fp: Fingerprint;
  readonly json: string;
  /** Absolute path -> stat when digested. */
  readonly inputStats: ReadonlyMap<string, FileStat>;
}

/** What computing a fingerprint needs. */
export interface FingerprintContext {
  readonly graph: Graph;
  readonly digests: DigestCache;
  readonly tools: ToolVersions;
  /** Values of env vars, usually `Deno.env.get`. */
  readonly env: (name: string) => string | undefined;
  /** Output digests of a dependency in this build; `undefined` if it has none yet. */
  readonly depOutputs: (id: string) => DigestList | undefined;
  /** Folders listed (globs, folder inputs and outputs), for the build stamp. */
  readonly dirs: SeenDirs;
  /** Local import closures of action modules, found once per build (see {@link codeDigests}). */
  readonly modules?: Map<string, readonly string[]>;
}

/** An input file: relative path and its stat (`null` when missing). */
type InputFile = [string, FileStat | null];

function walkFiles(root: string, rel: string, out: InputFile[], seen: SeenDirs): void {
  const abs = join(root, rel);
  if (!seen.has(abs)) seen.set(abs, statFile(abs)?.sig ?? "");
  for (const e of Deno.readDirSync(abs)) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory) walkFiles(root, r, out, seen);
    else out.push([r, statFile(join(root, r))]);
  }
}

/** Input files of `task`: globs expanded, folders walked, dependency outputs left out. */
function inputFiles(
  task: Task,
  graph: Graph,
  deps: readonly string[],
  seen: SeenDirs,
): InputFile[] {
  const depOutputs = deps.flatMap((d) => graph.tasks.get(d)!.outputs ?? []);
  const files: InputFile[] = [];
  for (const pattern of task.inputs ?? []) {
    for (const p of expandGlob(graph.root, pattern, seen)) {
      if (depOutputs.some((o) => isWithin(p, o))) continue; // covered by the dependency's digests
      const st = statFile(join(graph.root, p));
      if (st?.kind === "dir") walkFiles(graph.root, p, files, seen);
      else files.push([p, st]);
    }
  }
  return files;
}

/**
 * `[path, digest]` of every local module a TypeScript action's module imports (transitively, not
 * itself): workspace-relative when inside the workspace. Digests go through the digest cache, so
 * an unchanged module costs a stat, and the files enter the build stamp.
 */
async function codeDigests(task: Task, ctx: FingerprintContext): Promise<DigestList | undefined> {
  const a = task.action;
  if (a.kind !== "fn" || !a.module.startsWith("file:")) return undefined;
  const abs = decodeURIComponent(new URL(a.module).pathname);
  let closure = ctx.modules?.get(abs);
  if (!closure) {
    closure = localModuleClosure(abs);
    ctx.modules?.set(abs, closure);
  }
  const out: [string, string][] = [];
  for (const file of closure) {
    if (file === abs) continue;
    const rel = isWithin(file, ctx.graph.root) ? file.slice(ctx.graph.root.length + 1) : file;
    const digest = await ctx.digests.digest(rel, file);
    if (digest !== null) out.push([rel, digest]); // a specifier in a comment names no file
  }
  return out;
}

async function actionIdentity(task: Task, ctx: FingerprintContext) {
  const a = task.action;
  if (a.kind === "cmd") return { cmd: a.cmd };
  if (!a.module.startsWith("file:")) {
    return { module: a.module, digest: "", version: a.version ?? null };
  }
  const abs = decodeURIComponent(new URL(a.module).pathname);
  const rel = isWithin(abs, ctx.graph.root) ? abs.slice(ctx.graph.root.length + 1) : abs;
  const digest = await ctx.digests.digest(rel, abs);
  if (digest === null) throw new Error(`Module "${a.module}" of task "${task.id}" is unreadable`);
  return { module: rel, digest, version: a.version ?? null };
}

/**
 * Fingerprints `task` as the workspace is now. Fails with `missing-input` when a declared input
 * file is absent, or `tool-missing` when a declared tool is not installed.
 */
export async function fingerprintTask(
  task: Task,
  ctx: FingerprintContext,
): Promise<TaskFingerprint | Failure> {
  const deps = ctx.graph.deps.get(task.id) ?? [];
  const inputs: [string, string][] = [];
  const inputStats = new Map<string, FileStat>();
  for (const [rel, st] of inputFiles(task, ctx.graph, deps, ctx.dirs)) {
    const abs = join(ctx.graph.root, rel);
    const digest = st && st.kind !== "dir" ? await ctx.digests.digest(rel, abs, st) : null;
    if (!st || digest === null) {
      return failure(
        "missing-input",
        `Task "${task.id}" input "${rel}" does not exist; create it or fix the task's inputs`,
      );
    }
    inputStats.set(abs, st);
    inputs.push([rel, digest]);
  }
  const env: Record<string, string | null> = {};
  for (const name of task.env ?? []) env[name] = ctx.env(name) ?? null;
  for (const name of task.secretEnv ?? []) env[name] = secretDigest(ctx.env(name));
  const tools: Record<string, string> = {};
  for (const t of task.tools ?? []) {
    const v = await ctx.tools.version(t);
    if (typeof v !== "string") return v;
    tools[t.name] = v;
  }
  const depList: [string, DigestList][] = [];
  for (const d of deps) {
    const outs = ctx.depOutputs(d);
    if (outs === undefined) {
      return failure("dependency-pending", `Dependency "${d}" has not produced its outputs yet`);
    }
    depList.push([d, outs]);
  }
  const fp = makeFingerprint({
    id: task.id,
    action: await actionIdentity(task, ctx),
    code: await codeDigests(task, ctx),
    params: task.params ?? {},
    env,
    tools,
    platform: task.platform ? { os: Deno.build.os, arch: Deno.build.arch } : null,
    inputs,
    deps: depList,
  });
  return { fp, json: JSON.stringify(fp), inputStats };
}
