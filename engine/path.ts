/**
 * POSIX path helpers for workspace-relative paths. `node:path` would pull in Node compatibility
 * (~18 ms of start-up), which the no-op build cannot afford; these few functions are all it needs.
 *
 * @module
 */

/** Joins path parts with `/`, collapsing duplicate separators. */
export function join(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
}

/** The parent folder of `p` (`"."` for a bare name). */
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** Absolute, normalized form of `p` resolved against `base` (default: the working directory). */
export function resolve(p: string, base?: string): string {
  const abs = p.startsWith("/") ? p : `${base ?? Deno.cwd()}/${p}`;
  const out: string[] = [];
  for (const seg of abs.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/**
 * Normalizes a declared workspace-relative path; `null` when it is absolute or escapes the
 * workspace (`../x`), which declarations may not do.
 */
export function normalizeRel(p: string): string | null {
  if (p.startsWith("/")) return null;
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(seg);
  }
  return out.length ? out.join("/") : null;
}

/** The `.kiln` folder of workspace `root`: state, stamp, logs, lock and temporary files. */
export function kilnDir(root: string): string {
  return join(root, ".kiln");
}

/** True when relative path `child` equals `parent` or lies inside it. */
export function isWithin(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent + "/");
}
