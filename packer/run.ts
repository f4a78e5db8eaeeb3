/**
 * Runs `packer build` on one of kiln's templates and reports what it does: the current step as it
 * happens, the artifacts at the end, or one line saying why it failed.
 *
 * Packer runs with `-machine-readable`; kiln copies its output, as it comes, into a log file the
 * caller names (the full record, kept either way) and parses it with `machine_readable.ts`.
 * Every template takes the same variables (see `templates.ts`), so one runner drives the demo
 * and the real distributions alike.
 *
 * Nothing half-written: packer writes into a fresh folder beside `output_directory`, which is
 * renamed into place only when the build succeeds, and removed otherwise. Aborting the signal
 * kills packer and the QEMU it started (the whole process tree).
 *
 * @module
 */

import { descendants, killTree } from "../builders/local.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { defaultCacheDir } from "../engine/store.ts";
import { which } from "../engine/tools.ts";
import { MachineReadableParser, type PackerEvent } from "./machine_readable.ts";
import { detectPackerVersion, type PackerVersion } from "./version.ts";

/** Template variables (the contract in `templates.ts`); values are passed with `-var`. */
export type PackerVars = Readonly<Record<string, string | number | boolean>> & {
  /** Absolute; must not exist. */
  readonly output_directory: string;
};

/** Options of {@link runPackerBuild}. */
export interface PackerBuildOptions {
  /** A folder of `.pkr.hcl` files, as `prepareTemplate` (templates.ts) makes it, or one file. */
  readonly template: string;
  readonly vars: PackerVars;
  /** Where packer's complete machine-readable output is written (replaced, kept after). */
  readonly logPath: string;
  /**
   * Called for each event as packer prints it (a step starting, an error, an artifact). Paths
   * in events are packer's own: under a temporary folder beside `output_directory`.
   */
  readonly onEvent?: (event: PackerEvent) => void;
  /** `PACKER_CACHE_DIR`, where packer keeps ISO copies; default `<kiln cache>/packer`. */
  readonly packerCacheDir?: string;
  /** Default `packer` on PATH. */
  readonly packer?: string;
  readonly signal?: AbortSignal;
}

/** How long packer gets to clean up after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3000;

/** A successful build. */
export interface PackerBuildResult {
  /** Every file packer reported as an artifact, at its final place under `output_directory`. */
  readonly artifacts: readonly string[];
  readonly durationMs: number;
  readonly logPath: string;
}

/**
 * Environment of a packer run: no "out of date" check (it would call home from offline builds,
 * and slows every command), no colour, a cache folder of kiln's choosing.
 */
function packerEnv(cacheDir: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/",
    TMPDIR: Deno.env.get("TMPDIR") ?? "/tmp",
    CHECKPOINT_DISABLE: "1",
    PACKER_NO_COLOR: "1",
    PACKER_CACHE_DIR: cacheDir,
  };
}

/**
 * Runs `packer build -machine-readable -var ... <template>`. Fails with `packer-failed` (the
 * last error packer printed, and the log's path), `output-exists` when `output_directory` is
 * already there, `tool-missing` without packer, `interrupted` on abort.
 *
 * @example
 * ```ts
 * const r = await runPackerBuild({
 *   template: prepared.dir, // prepareTemplate("demo", ...): the template + packer/variables.pkr.hcl
 *   vars: { iso_url: "/w/demo.iso", iso_checksum: `sha256:${sha}`, output_directory: "/w/out",
 *     vm_name: "demo.qcow2", accelerator: "tcg", serial_log: "/w/serial.log" },
 *   logPath: "/w/packer.log",
 *   onEvent: (e) => e.kind === "step" && console.log(e.text),
 * });
 * if (!("reason" in r)) console.log(r.artifacts); // ["/w/out/demo.qcow2"]
 * ```
 */
export async function runPackerBuild(o: PackerBuildOptions): Promise<PackerBuildResult | Failure> {
  const packer = findPacker(o.packer);
  if (typeof packer !== "string") return packer;
  const out = o.vars.output_directory.replace(/\/+$/, "");
  if (!out.startsWith("/")) throw new Error(`output_directory "${out}" is not absolute`);
  if (await exists(out)) {
    return failure(
      "output-exists",
      `Output directory "${out}" already exists: remove it or pick another`,
    );
  }
  const partial = `${out}.partial-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const args = Object.entries({ ...o.vars, output_directory: partial })
    .flatMap(([k, v]) => ["-var", `${k}=${v}`]);
  const template = o.template.replace(/\/+$/, "");
  const isDir = await Deno.stat(template).then((st) => st.isDirectory, () => null);
  if (isDir === null) {
    return failure("missing-input", `Template "${template}" does not exist: check the path`);
  }
  const cwd = isDir ? template : template.slice(0, template.lastIndexOf("/")) || "/";
  // QEMU does not create the serial log's folder; the log file's folder may be new too.
  for (const f of [o.logPath, o.vars.serial_log]) {
    if (typeof f === "string" && f.includes("/")) {
      await Deno.mkdir(f.slice(0, f.lastIndexOf("/")) || "/", { recursive: true });
    }
  }
  using log = await Deno.open(o.logPath, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  const child = new Deno.Command(packer, {
    args: ["build", "-machine-readable", ...args, template],
    cwd,
    env: packerEnv(o.packerCacheDir ?? `${defaultCacheDir()}/packer`),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stop = killOnAbort(child.pid, o.signal);
  const parser = new MachineReadableParser();
  const stderr = new MachineReadableParser();
  // Both streams go to the log as they come; each has its own parser (their lines interleave).
  const follow = async (stream: ReadableStream<Uint8Array>, p: MachineReadableParser) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      await log.write(chunk);
      for (const e of p.push(decoder.decode(chunk, { stream: true }))) o.onEvent?.(e);
    }
    for (const e of p.push(decoder.decode()).concat(p.end())) o.onEvent?.(e);
  };
  let status: Deno.CommandStatus;
  try {
    await Promise.all([follow(child.stdout, parser), follow(child.stderr, stderr)]);
    status = await child.status;
  } finally {
    await stop();
  }
  const durationMs = Math.round(performance.now() - t0);
  if (o.signal?.aborted || !status.success) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    if (o.signal?.aborted) {
      return failure("interrupted", `Packer build of "${template}" was interrupted`);
    }
    const said = oneLine(parser.lastError() ?? stderr.lastError() ?? "no error message");
    return failure(
      "packer-failed",
      `Packer build of "${template}" failed (exit ${status.code}): ${said}; full log "${o.logPath}"`,
    );
  }
  const files = parser.artifacts.flatMap((a) => a.files);
  if (files.length === 0 || !(await exists(partial))) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    return failure(
      "packer-failed",
      `Packer build of "${template}" succeeded but reported no artifact; full log "${o.logPath}"`,
    );
  }
  await Deno.rename(partial, out);
  const artifacts = files.map((f) =>
    f.startsWith(`${partial}/`) ? out + f.slice(partial.length) : f
  );
  return { artifacts, durationMs, logPath: o.logPath };
}

/** The packer binary (`given`, else `packer` on PATH), or a `tool-missing` failure. */
function findPacker(given = "packer"): string | Failure {
  return which(given) ??
    failure(
      "tool-missing",
      `Tool "${given}" is not installed: install the Debian package "packer"`,
    );
}

/** `text` on one line, at most `max` characters. */
function oneLine(text: string, max = 400): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * On `signal`'s abort, SIGTERM to `pid` and everything it started (packer, its plugin, QEMU),
 * SIGKILL after a grace period. The returned function stops listening and, after an abort,
 * waits until every process that was signalled is gone: no QEMU outlives the build.
 */
function killOnAbort(pid: number, signal?: AbortSignal): () => Promise<void> {
  let tree: number[] = [];
  const kill = () => {
    tree = [...descendants(pid), pid];
    killTree(pid, "SIGTERM");
  };
  if (signal?.aborted) kill();
  else signal?.addEventListener("abort", kill, { once: true });
  return async () => {
    signal?.removeEventListener("abort", kill);
    const end = Date.now() + KILL_GRACE_MS;
    while (tree.some(alive)) {
      if (Date.now() > end) {
        for (const p of tree.filter(alive)) {
          try {
            Deno.kill(p, "SIGKILL");
          } catch { /* gone meanwhile */ }
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
}

/** True while `pid` runs (a zombie does not count); false where there is no /proc. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
  } catch {
    return false;
  }
}

/**
 * The installed packer's version (see `detectPackerVersion` in `version.ts`, which also refuses a
 * packer older than 1.6.6), for the packer on PATH or `opts.packer`. Fails with `tool-missing`
 * when packer cannot be found.
 *
 * @example
 * ```ts
 * const v = await packerVersion(); // { major: 1, minor: 6, patch: 6, text: "1.6.6", ... }
 * ```
 */
export async function packerVersion(
  opts: { packer?: string } = {},
): Promise<PackerVersion | Failure> {
  const packer = findPacker(opts.packer);
  if (typeof packer !== "string") return packer;
  return await detectPackerVersion(packer);
}
