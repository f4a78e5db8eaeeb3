/**
 * Helpers for end-to-end tests: temporary workspaces under `test/.tmp/` (creating files in /tmp
 * is much slower on the test machines), file trees and their digests, and running the real CLI.
 *
 * @module
 */

import { descendants } from "../../builders/local.ts";
import { createHash } from "node:crypto";

/** Absolute path of the repository. */
export const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Where the e2e tests keep their temporary folders. */
export const TMP_ROOT = `${REPO}/test/.tmp`;

/** A fresh folder under {@link TMP_ROOT}. */
export async function makeTmp(prefix: string): Promise<string> {
  await Deno.mkdir(TMP_ROOT, { recursive: true });
  return await Deno.realPath(await Deno.makeTempDir({ dir: TMP_ROOT, prefix }));
}

/** Removes `dir` recursively, making read-only files and folders writable if needed. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    await new Deno.Command("chmod", { args: ["-R", "u+w", dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `n` random bytes (getRandomValues fills at most 64 KiB a call). */
export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

/** True when `path` exists (a dangling symlink counts). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** SHA-256 (hex) of bytes or a string. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Digest of the file at `path`, or `null` when it does not exist. */
export function fileDigest(path: string): string | null {
  try {
    return sha256(Deno.readFileSync(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Writes `files` (relative path -> content) under `root`, creating folders. */
export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, data] of Object.entries(files)) {
    const abs = `${root}/${rel}`;
    Deno.mkdirSync(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
    if (typeof data === "string") Deno.writeTextFileSync(abs, data);
    else Deno.writeFileSync(abs, data);
  }
}

/** Relative path -> digest of every regular file under `root/rel` (symlinks as `symlink:target`). */
export function treeDigests(root: string, rel: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (r: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${root}/${r}`)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const p = `${r}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isSymlink) out.set(p, `symlink:${Deno.readLinkSync(`${root}/${p}`)}`);
      else out.set(p, sha256(Deno.readFileSync(`${root}/${p}`)));
    }
  };
  walk(rel);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Human-readable differences between two {@link treeDigests} maps; empty when equal. */
export function diffTrees(
  actual: ReadonlyMap<string, string>,
  expected: ReadonlyMap<string, string>,
  read?: { actual: (p: string) => string; expected: (p: string) => string },
): string[] {
  const out: string[] = [];
  const show = (s: string) => JSON.stringify(s.length > 200 ? s.slice(0, 200) + "..." : s);
  for (const [p, d] of expected) {
    const a = actual.get(p);
    if (a === undefined) out.push(`${p}: missing`);
    else if (a !== d) {
      out.push(
        read
          ? `${p}: content differs: got ${show(read.actual(p))}, clean build has ${
            show(read.expected(p))
          }`
          : `${p}: content differs`,
      );
    }
  }
  for (const p of actual.keys()) if (!expected.has(p)) out.push(`${p}: unexpected extra file`);
  return out;
}

/** Copies the listed files and folders (relative to `from`) into `to`. */
export async function copyPaths(from: string, to: string, rels: readonly string[]): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for (const rel of rels) {
    const r = await new Deno.Command("cp", { args: ["-a", `${from}/${rel}`, `${to}/`] }).output();
    if (!r.success) throw new Error(`cp ${rel} failed: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** What a `kiln build --json` run printed. */
export interface BuildJson {
  tasks: { id: string; status: string; durationMs: number }[];
  ran: number;
  cached: number;
  fresh: number;
  failed: number;
}

/** The result of a CLI run. */
export interface CliResult {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Options for running the CLI. */
export interface CliOptions {
  cacheDir: string;
  /** Extra environment for the kiln process (and, when declared, its tasks). */
  env?: Record<string, string>;
}

function cliCommand(args: string[], o: CliOptions): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO}/build.ts`, ...args],
    cwd: REPO,
    env: { KILN_CACHE_DIR: o.cacheDir, NO_COLOR: "1", ...o.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Starts `deno run -A build.ts <args>`; the caller awaits `output()`. */
export function spawnKiln(args: string[], o: CliOptions): Deno.ChildProcess {
  return cliCommand(args, o).spawn();
}

/** Collects a spawned CLI's result. */
export async function collect(child: Deno.ChildProcess): Promise<CliResult> {
  const r = await child.output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    signal: r.signal,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr),
  };
}

/** Runs `deno run -A build.ts <args>` to completion. */
export function kiln(args: string[], o: CliOptions): Promise<CliResult> {
  return collect(spawnKiln(args, o));
}

/** Parses the JSON summary line of `build --json` (or the plan of `--dry-run --json`). */
export function parseJson<T = BuildJson>(r: CliResult): T {
  const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) {
    throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return JSON.parse(line) as T;
}

/** Formats a CLI result for an assertion message. */
export function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\nstdout:\n${r.stdout}\nstderr:\n${
    r.stderr.slice(-4000)
  }`;
}

/** Runs a clean build of `files` (relative paths in `ws`) in a fresh copy with an empty cache. */
export async function cleanBuild(
  ws: string,
  files: readonly string[],
  env: Record<string, string> = {},
): Promise<{ dir: string; result: CliResult }> {
  const dir = await makeTmp("clean-");
  await copyPaths(ws, dir, files);
  const result = await kiln(["build", "--file", `${dir}/kiln.yaml`, "--json"], {
    cacheDir: `${dir}/.cache-empty`,
    env,
  });
  return { dir, result };
}

/** Pids of live (non-zombie) processes whose working folder is `dir`. */
export function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/cwd`) === dir) out.push(Number(e.name));
    } catch { /* exited, or a zombie */ }
  }
  return out;
}

/** True while process `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Every descendant of `pid`, from /proc (the same walk kiln's cancel uses). */
export const descendantsOf = descendants;

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Names under the cache's `ac/` and `cas/` shards that are not entries, blobs or seals. */
export function strayCacheFiles(cacheDir: string): string[] {
  const out: string[] = [];
  for (const top of ["ac", "cas"]) {
    let shards: Deno.DirEntry[];
    try {
      shards = [...Deno.readDirSync(`${cacheDir}/${top}`)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const s of shards) {
      if (!s.isDirectory || !/^[0-9a-f]{2}$/.test(s.name)) {
        out.push(`${top}/${s.name}`);
        continue;
      }
      for (const f of Deno.readDirSync(`${cacheDir}/${top}/${s.name}`)) {
        const ok = top === "ac"
          ? /^[0-9a-f]{64}$/.test(f.name)
          : /^[0-9a-f]{64}(\.seal)?$/.test(f.name);
        if (!ok || !f.name.startsWith(s.name) || !f.isFile) out.push(`${top}/${s.name}/${f.name}`);
      }
    }
  }
  return out;
}
