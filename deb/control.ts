/**
 * The text files of a `.deb`'s control member: `control` (fields in the order `dpkg-gencontrol`
 * writes them, the description folded the way policy 5.6.13 says), `md5sums` and `conffiles`,
 * plus the Installed-Size figure `dpkg-gencontrol` would compute.
 *
 * @module
 */

import { type DebSpecFields, RELATION_KEYS, type RelationKey } from "./spec_schema.ts";
import type { TarEntry } from "./tar.ts";

/** The widest a folded description line may be (lintian warns past 80 columns). */
const WIDTH = 79;

/** The control field name of a relation key: `pre_depends` is `Pre-Depends`. */
function relationField(key: RelationKey): string {
  return key.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join("-");
}

/** `words` wrapped to lines of at most `width` characters (a longer word stays whole). */
function wrap(words: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line !== "" && line.length + 1 + w.length > width) {
      lines.push(line);
      line = indent + w;
    } else {
      line = line === "" ? w : `${line} ${w}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * The value of the `Description:` field: the synopsis, then the extended description with each
 * line indented by one space and blank lines written ` .`. Paragraph text is joined and wrapped
 * at 79 columns; lines that start with a space stay as written (policy: shown verbatim), and
 * lines that start with a list marker (`-`, `*`, `+`, `1.`) begin a new line.
 *
 * @example
 * ```ts
 * formatDescription("Build tool\nRuns tasks.\n\nCaches outputs.");
 * // "Build tool\n Runs tasks.\n .\n Caches outputs."
 * ```
 */
export function formatDescription(description: string): string {
  const [synopsis, ...rest] = description.replace(/\r\n?/g, "\n").split("\n");
  while (rest.length > 0 && rest[0].trim() === "") rest.shift();
  while (rest.length > 0 && rest[rest.length - 1].trim() === "") rest.pop();
  const out: string[] = [];
  let block: string[] = [];
  let indent = "";
  const flush = () => {
    if (block.length > 0) out.push(...wrap(block, WIDTH - 1, indent));
    block = [];
    indent = "";
  };
  for (const raw of rest) {
    const line = raw.trimEnd();
    if (line === "" || line === ".") {
      flush();
      out.push(".");
    } else if (/^\s/.test(line)) {
      flush();
      out.push(line);
    } else {
      const marker = /^([-*+]|\d+[.)])\s+/.exec(line);
      if (marker) {
        flush();
        indent = " ".repeat(marker[0].length);
      }
      block.push(...line.split(/\s+/));
    }
  }
  flush();
  return [synopsis.trim(), ...out.map((l) => ` ${l}`)].join("\n");
}

/** What `control` is made from: the spec's fields and the computed size. */
export type ControlFields =
  & Pick<
    DebSpecFields,
    "name" | "version" | "architecture" | "maintainer" | "description" | "homepage" | "section"
  >
  & { readonly priority?: string; readonly multi_arch?: string }
  & Partial<Readonly<Record<RelationKey, readonly string[]>>>;

/**
 * The `control` file, fields in `dpkg-gencontrol`'s order, ending with a newline.
 *
 * @example
 * ```ts
 * renderControl({ ...spec, depends: ["libc6"] }, 120);
 * ```
 */
export function renderControl(fields: ControlFields, installedSizeKiB: number): string {
  const lines: [string, string | undefined][] = [
    ["Package", fields.name],
    ["Version", fields.version],
    ["Architecture", fields.architecture],
    ["Maintainer", fields.maintainer],
    ["Installed-Size", String(installedSizeKiB)],
    ...RELATION_KEYS.map((k): [string, string | undefined] => {
      const list = fields[k];
      return [relationField(k), list && list.length > 0 ? list.join(", ") : undefined];
    }),
    ["Section", fields.section],
    ["Priority", fields.priority],
    ["Multi-Arch", fields.multi_arch],
    ["Homepage", fields.homepage],
    ["Description", formatDescription(fields.description)],
  ];
  return lines.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`).join("\n") + "\n";
}

/**
 * Installed-Size in KiB as `dpkg-gencontrol` computes it: each file and symlink rounded up to a
 * whole KiB, each folder one KiB.
 */
export function installedSize(entries: readonly TarEntry[]): number {
  let kib = 0;
  for (const e of entries) {
    if (e.type === "file") kib += Math.ceil(e.size / 1024);
    else if (e.type === "symlink") {
      kib += Math.ceil(new TextEncoder().encode(e.target).length / 1024);
    } else kib += 1;
  }
  return kib;
}

/** The `md5sums` file: `<md5>  <path>` per file, paths relative (`usr/bin/tool`), sorted. */
export function md5sumsFile(sums: ReadonlyMap<string, string>): string {
  return [...sums.keys()].sort().map((p) => `${sums.get(p)}  ${p}\n`).join("");
}

/** The `conffiles` file: absolute paths, one a line, sorted; empty when there are none. */
export function conffilesFile(paths: readonly string[]): string {
  return [...new Set(paths)].sort().map((p) => `${p}\n`).join("");
}
