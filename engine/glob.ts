/**
 * Input globs: `*`, `?`, `[abc]`, `{a,b}` within a path segment and `**` across segments.
 * Literal paths are returned as they are, without touching the disk, so declaring plain files
 * costs nothing extra on a no-op build.
 *
 * @module
 */

import { join } from "./path.ts";
import { statFile } from "./stat.ts";

/** True when `pattern` contains glob syntax. */
export function isGlob(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

function expandBraces(p: string): string[] {
  const open = p.indexOf("{");
  if (open < 0) return [p];
  let depth = 0;
  for (let i = open; i < p.length; i++) {
    if (p[i] === "{") depth++;
    else if (p[i] === "}" && --depth === 0) {
      const parts: string[] = [];
      let d = 0, start = open + 1;
      for (let j = open + 1; j < i; j++) {
        if (p[j] === "{") d++;
        else if (p[j] === "}") d--;
        else if (p[j] === "," && d === 0) {
          parts.push(p.slice(start, j));
          start = j + 1;
        }
      }
      parts.push(p.slice(start, i));
      return parts.flatMap((alt) => expandBraces(p.slice(0, open) + alt + p.slice(i + 1)));
    }
  }
  return [p];
}

/** A regular expression source matching one path segment against glob segment `seg`. */
function segmentSource(seg: string): string {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let body = seg.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\\]]/g, "\\$&");
  }
  // Like shells, `*` does not match a leading dot unless the pattern starts with one.
  return seg.startsWith(".") ? re : `(?!\\.)${re}`;
}

function segmentRegex(seg: string): RegExp {
  return new RegExp(`^${segmentSource(seg)}$`);
}

/**
 * Regular expressions that match the workspace-relative paths `pattern` expands to (one per
 * brace alternative), for asking of a path whether a glob covers it without walking the tree.
 *
 * @example
 * ```ts
 * globRegExps("src/**\/*.{ts,js}").some((re) => re.test("src/a/b.ts")); // true
 * ```
 */
export function globRegExps(pattern: string): RegExp[] {
  return expandBraces(pattern).map((p) => {
    const segs = p.split("/").filter((s) => s !== "" && s !== ".");
    let re = "";
    segs.forEach((s, i) => {
      const last = i === segs.length - 1;
      if (s === "**") re += last ? "(?:(?!\\.)[^/]+/)*(?!\\.)[^/]+" : "(?:(?!\\.)[^/]+/)*";
      else re += segmentSource(s) + (last ? "" : "/");
    });
    return new RegExp(`^${re}$`);
  });
}

/** Folders a glob listed: absolute path -> stat signature taken before listing it. */
export type SeenDirs = Map<string, string>;

function readDir(dir: string, seen?: SeenDirs): Deno.DirEntry[] {
  if (seen && !seen.has(dir)) seen.set(dir, statFile(dir)?.sig ?? "");
  try {
    return [...Deno.readDirSync(dir)].sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch {
    return [];
  }
}

function walk(
  root: string,
  rel: string,
  segs: string[],
  out: Set<string>,
  seen?: SeenDirs,
): void {
  if (segs.length === 0) return;
  const [seg, ...rest] = segs;
  const abs = rel ? join(root, rel) : root;
  if (seg === "**") {
    walk(root, rel, rest, out, seen); // zero directories
    if (rest.length === 0) {
      for (const e of readDir(abs, seen)) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.name.startsWith(".")) continue;
        if (e.isDirectory) walk(root, r, segs, out, seen);
        else if (e.isFile) out.add(r);
      }
      return;
    }
    for (const e of readDir(abs, seen)) {
      if (e.isDirectory && !e.name.startsWith(".")) {
        walk(root, rel ? `${rel}/${e.name}` : e.name, segs, out, seen);
      }
    }
    return;
  }
  if (!isGlob(seg)) {
    const r = rel ? `${rel}/${seg}` : seg;
    if (rest.length === 0) {
      try {
        if (Deno.statSync(join(root, r)).isFile) out.add(r);
      } catch { /* not there */ }
    } else walk(root, r, rest, out, seen);
    return;
  }
  const re = segmentRegex(seg);
  for (const e of readDir(abs, seen)) {
    if (!re.test(e.name)) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (rest.length === 0) {
      if (e.isFile) out.add(r);
    } else if (e.isDirectory) walk(root, r, rest, out, seen);
  }
}

/**
 * Expands `pattern` (relative to `root`) to sorted workspace-relative file paths. A pattern
 * without glob syntax is returned unchanged, whether or not it exists.
 *
 * @example
 * ```ts
 * expandGlob("/ws", "src/**\/*.ts"); // ["src/a.ts", "src/lib/b.ts"]
 * ```
 */
export function expandGlob(root: string, pattern: string, seen?: SeenDirs): string[] {
  if (!isGlob(pattern)) return [pattern];
  const out = new Set<string>();
  for (const p of expandBraces(pattern)) {
    walk(root, "", p.split("/").filter(Boolean), out, seen);
  }
  return [...out].sort();
}
