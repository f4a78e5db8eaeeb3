/**
 * The local modules a TypeScript pipeline is made of: its entry module and every module it
 * imports by a relative path, transitively. The build stamp records their signatures so that a
 * no-op build of TypeScript pipelines is recognized without importing them (see `stamp.ts`):
 * editing any of them, or anything they import, falls through to a full build.
 *
 * Static `import`/`export ... from` and literal dynamic `import("...")` specifiers are followed;
 * bare and `npm:` specifiers are not (their versions are pinned by `deno.lock`, which the caller
 * records as well).
 *
 * @module
 */

import { dirname, resolve } from "./path.ts";

const SPECIFIER =
  /(?:\bimport\s*(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s*)?|\bexport\s+(?:type\s+)?[\w*{}\s,$]+\s+from\s*|\bimport\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g;

/**
 * Absolute paths of `entry` and the local modules it imports, transitively, sorted. A module
 * that cannot be read is listed all the same (its absence is then part of the record).
 *
 * @example
 * ```ts
 * const files = localModuleClosure("/repo/tasks/mod.ts");
 * // ["/repo/engine/hash.ts", ..., "/repo/tasks/mod.ts", "/repo/tasks/source_release.ts"]
 * ```
 */
export function localModuleClosure(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [resolve(entry)];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const m of text.matchAll(SPECIFIER)) stack.push(resolve(m[1], dirname(file)));
  }
  return [...seen].sort();
}
