/**
 * Loading a YAML spec file people write by hand (a package spec, a formula spec) with errors
 * they can act on: one line naming the file, the line and the key, what is wrong and how to fix
 * it. The specs differ only in their zod schema, so parsing, locating and wording live here.
 *
 * Custom zod messages read `must be X|how to fix it`; the key, the line and the value are put in
 * between.
 *
 * @module
 */

import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { type Failure, failure } from "./failure.ts";
import { describe, formatPath, unknownKeyMessage, valueAt } from "./yaml_hints.ts";

/** A key path into a spec, e.g. `["files", 0, "src"]`. */
export type SpecPath = (string | number)[];

/** Hints for the YAML syntax errors people make. */
export const SYNTAX_FIX: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  DUPLICATE_KEY: "remove or rename one of them",
  BAD_INDENT: "check the indentation",
  MULTIPLE_DOCS: "keep one document and remove the --- line",
  BAD_DQ_ESCAPE: "use single quotes for regexes",
};

/** Source offset of the deepest node along `path` that exists (its key, or the list item). */
export function locate(contents: Node | null, path: SpecPath): number {
  let node: unknown = contents;
  let offset = contents?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      node = node.items[seg];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

/** A parsed spec file: its document, its plain value and how to name a place in it. */
export interface YamlSpecSource {
  readonly doc: Document;
  readonly raw: Record<string, unknown>;
  /** `Package spec "x.yaml" line 12` for a source offset. */
  at(offset: number): string;
  /** {@link at} for a key path. */
  where(path: SpecPath): string;
}

/** How a kind of spec is named in its messages. */
export interface SpecKind {
  /** `Package spec`, `Formula spec`. */
  readonly label: string;
  /** The failure reason, e.g. `deb-spec-invalid`. */
  readonly reason: string;
  /** The first keys, for the message when the file is not a map: `name:, version:`. */
  readonly keys: string;
}

/** Parses spec text (`file` names it); a failure for bad YAML or a file that is not a map. */
export function parseYamlSpec(
  source: string,
  file: string,
  kind: SpecKind,
): YamlSpecSource | Failure {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  const at = (offset: number) =>
    `${kind.label} ${JSON.stringify(file)} line ${lc.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const what = e.code === "DUPLICATE_KEY"
      ? `duplicate key ${JSON.stringify(source.slice(e.pos[0]).match(/^[^:\n]*/)![0].trim())}`
      : e.message.split("\n")[0].replace(/\s+at line \d+.*$/, "").replace(/\.$/, "");
    return failure(
      kind.reason,
      `${at(e.pos[0])}: invalid YAML: ${what.charAt(0).toLowerCase()}${what.slice(1)}; ${
        SYNTAX_FIX[e.code] ?? "fix the syntax"
      } and rerun`,
    );
  }
  const raw = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return failure(
      kind.reason,
      `${at(0)}: expected a map of keys (${kind.keys}, ...), got ${describe(raw)}; ` +
        `fix it and rerun`,
    );
  }
  return { doc, raw, at, where: (path) => at(locate(doc.contents, path)) };
}

/** zod's type names as a spec author would say them. */
const KINDS: Record<string, string> = {
  string: "a string",
  array: "a list",
  object: "a map",
  boolean: "true or false",
  number: "a number",
};

/** `must be X, got Y; fix` for one zod issue. */
function wording(
  issue: z.ZodIssue,
  raw: unknown,
  knownKeys: (path: SpecPath) => string[],
): { path: SpecPath; text: string; typo?: boolean } {
  const path = issue.path;
  const got = valueAt(raw, path);
  const show = (v: unknown) =>
    typeof v === "string"
      ? JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
      : describe(v);
  const key = (p: SpecPath) => p.length === 0 ? "the spec" : `key ${JSON.stringify(formatPath(p))}`;
  switch (issue.code) {
    case "unrecognized_keys": {
      const at = [...path, issue.keys[0]];
      const hint = unknownKeyMessage(issue.keys[0], knownKeys(path))
        .replace(/^unknown key "[^"]*"; /, "");
      return { path: at, text: `${key(at)} is not known; ${hint} and rerun`, typo: true };
    }
    case "invalid_type":
      if (got === undefined) return { path, text: `${key(path)} is missing; add it and rerun` };
      return {
        path,
        text: `${key(path)} must be ${KINDS[issue.expected] ?? issue.expected}, got ${
          describe(got)
        }; ${
          issue.expected === "array" && typeof got === "string"
            ? `write it as a list: [${got}]`
            : "fix it"
        } and rerun`,
      };
    case "invalid_enum_value":
      return {
        path,
        text: `${key(path)} must be one of ${issue.options.join(", ")}, got ${
          show(got)
        }; write one of them and rerun`,
      };
    case "invalid_union": {
      // The branch that got furthest says what is wrong; a plain type mismatch says what fits.
      const issues = issue.unionErrors.flatMap((e) => e.issues);
      const best = issues.find((i) => i.path.length > path.length) ??
        issues.find((i) => i.code !== "invalid_type");
      if (best) return wording(best, raw, knownKeys);
      const kinds = issues
        .flatMap((i) => (i.code === "invalid_type" ? [KINDS[i.expected] ?? i.expected] : []));
      return {
        path,
        text: `${key(path)} must be ${[...new Set(kinds)].join(" or ")}, got ${
          describe(got)
        }; fix it and rerun`,
      };
    }
    default: {
      const [must, fix] = issue.message.split("|");
      const value = got === undefined || typeof got === "object" ? "" : `, got ${show(got)}`;
      return { path, text: `${key(path)} ${must}${value}; ${fix ?? "fix it"} and rerun` };
    }
  }
}

/**
 * The first problem of a failed parse, in source order when the source is known (`offsetOf`),
 * as `key "files[0].src" ...; fix and rerun`. A missing key beside an unknown one is left out:
 * the unknown one is its misspelling.
 */
export function firstSpecProblem(
  error: z.ZodError,
  raw: unknown,
  offsetOf: (p: SpecPath) => number,
  knownKeys: (path: SpecPath) => string[],
): { path: SpecPath; text: string; offset: number } {
  const all = error.issues.map((i) => wording(i, raw, knownKeys));
  const typoIn = new Set(all.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))));
  return all
    .filter((p) =>
      !(p.text.includes("is missing") && typoIn.has(JSON.stringify(p.path.slice(0, -1))))
    )
    .map((p) => ({ ...p, offset: offsetOf(p.path) }))
    .reduce((a, b) => (b.offset < a.offset ? b : a));
}

/**
 * The text of spec file `path`, or a failure naming it when it does not exist (`kind` says what
 * it is called in the message).
 */
export async function readSpecText(path: string, kind: SpecKind): Promise<string | Failure> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return failure(
      kind.reason,
      `${kind.label} ${JSON.stringify(path)} does not exist; check the path and rerun`,
    );
  }
}
