/**
 * Tool versions that enter task keys. Running `packer --version` on every build would cost a
 * process start per tool, so a version is cached against the binary's path and stat signature:
 * it is asked again only when the binary on PATH changes.
 *
 * @module
 */

import { type Failure, failure } from "./failure.ts";
import { join } from "./path.ts";
import { statFile } from "./stat.ts";
import type { ToolSpec } from "./task.ts";

/** Where tool versions are remembered between runs (the workspace state). */
export interface ToolVersionCache {
  tool(key: string): string | undefined;
  setTool(key: string, version: string): void;
}

/** Finds `name` on `path` (a PATH string); `null` when absent. */
export function which(name: string, path = Deno.env.get("PATH") ?? ""): string | null {
  if (name.includes("/")) return statFile(name) ? name : null;
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    const st = statFile(p);
    if (
      st && (st.kind === "file" || st.kind === "symlink") &&
      (st.mode & 0o111 || st.kind === "symlink")
    ) {
      return p;
    }
  }
  return null;
}

/** Resolves tool versions: name -> first line of its version output. */
export class ToolVersions {
  #cache: ToolVersionCache;
  #memo = new Map<string, Promise<string | Failure>>();
  /** Resolved binary path -> stat signature, of every tool asked about (for the build stamp). */
  readonly binaries = new Map<string, string>();

  constructor(cache: ToolVersionCache) {
    this.#cache = cache;
  }

  /** The version of `tool`, or `tool-missing` when it is not on PATH or does not run. */
  version(tool: ToolSpec): Promise<string | Failure> {
    const args = tool.args ?? ["--version"];
    const memoKey = `${tool.name}\0${args.join("\0")}`;
    let p = this.#memo.get(memoKey);
    if (!p) {
      p = this.#resolve(tool.name, args);
      this.#memo.set(memoKey, p);
    }
    return p;
  }

  async #resolve(name: string, args: readonly string[]): Promise<string | Failure> {
    const bin = which(name);
    const missing = () =>
      failure("tool-missing", `Tool "${name}" is not on PATH; install it or remove it from tools`);
    if (!bin) return missing();
    let real = bin;
    try {
      real = Deno.realPathSync(bin);
    } catch { /* dangling link */ }
    const sig = statFile(real)?.sig ?? "";
    this.binaries.set(real, sig);
    const key = `${real}|${sig}|${args.join(" ")}`;
    const known = this.#cache.tool(key);
    if (known !== undefined) return known;
    try {
      const out = await new Deno.Command(bin, { args: [...args], stdin: "null" }).output();
      const text = new TextDecoder().decode(out.stdout).trim() ||
        new TextDecoder().decode(out.stderr).trim();
      const version = text.split("\n")[0].trim();
      if (!out.success && !version) return missing();
      this.#cache.setTool(key, version);
      return version;
    } catch {
      return missing();
    }
  }
}
