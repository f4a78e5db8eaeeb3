/**
 * Host tools of the demo's build steps: finding them up front (a `tool-missing` failure names
 * the Debian package to install) and running one as a single process with a clean environment.
 * Kept apart from `initramfs.ts` because the demo ISO uses them too, and they say nothing about
 * what goes into an initramfs.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { which } from "../../engine/tools.ts";

const SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin";

/** PATH for host tools: the caller's, plus the sbin folders where `depmod` lives. */
export function toolPath(): string {
  return `${Deno.env.get("PATH") ?? "/usr/bin:/bin"}:${SBIN_PATH}`;
}

/**
 * Finds host tools, given as tool name -> the Debian package that provides it: their absolute
 * paths, or a `tool-missing` failure naming the first absent one and its package. Checked up
 * front, so a build fails in one line instead of halfway.
 *
 * @example
 * ```ts
 * const t = requireTools({ xorriso: "xorriso", cpio: "cpio" });
 * if (!("reason" in t)) console.log(t.xorriso); // "/usr/bin/xorriso"
 * ```
 */
export function requireTools<T extends string>(
  tools: Readonly<Record<T, string>>,
): Record<T, string> | Failure {
  const out = {} as Record<T, string>;
  for (const name of Object.keys(tools) as T[]) {
    const path = which(name, toolPath());
    if (!path) {
      return failure(
        "tool-missing",
        `Tool "${name}" is not installed: install the Debian package "${tools[name]}"`,
      );
    }
    out[name] = path;
  }
  return out;
}

/** Options shared by the demo's build steps. */
export interface StepOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly stdin?: Uint8Array;
  /** Aborting kills the command. */
  readonly signal?: AbortSignal;
}

/**
 * Runs one host command (a single process: aborting the signal kills it) and returns its
 * stdout, or a Failure with `reason` and the command's last line of output.
 */
export async function runStep(
  argv: readonly string[],
  reason: string,
  opts: StepOptions = {},
): Promise<string | Failure> {
  const name = argv[0].split("/").pop();
  if (opts.signal?.aborted) return failure("interrupted", `Stopped before running "${name}"`);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: { PATH: toolPath(), LC_ALL: "C", ...opts.env },
    clearEnv: true,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    signal: opts.signal,
  }).spawn();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    await w.write(opts.stdin).catch(() => {});
    await w.close().catch(() => {});
  }
  const r = await child.output();
  if (opts.signal?.aborted) return failure("interrupted", `Stopped while running "${name}"`);
  const dec = new TextDecoder();
  if (!r.success) {
    const said = (dec.decode(r.stderr) + dec.decode(r.stdout)).trim().split("\n").at(-1) ?? "";
    return failure(reason, `Command "${name}" failed with exit ${r.code}: "${said}"`);
  }
  return dec.decode(r.stdout);
}
