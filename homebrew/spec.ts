/**
 * Loading a formula spec: the YAML file (or the object a pipeline builds) that says what a
 * Homebrew formula and a Scoop manifest describe, where the release archives are downloaded from,
 * and which tap they are published to. One spec feeds both, so the two stay in step.
 *
 * A bad spec is a `formula-spec-invalid` {@link Failure} naming the file, the line and the key,
 * e.g. `Formula spec "kiln.formula.yaml" line 3: key "desc" must not end with a period, got
 * "Builds things."; remove it and rerun`.
 *
 * @example
 * ```yaml
 * name: kiln
 * desc: Content-hashed build graph for OS images and release packages
 * homepage: https://github.com/example/kiln
 * license: MIT
 * url: https://github.com/example/kiln/releases/download/v{version}/kiln-{version}-{os}-{arch}.{ext}
 * install: bin.install "kiln"
 * test: assert_match version.to_s, shell_output("#{bin}/kiln --version")
 * tap:
 *   path: ../homebrew-tap
 *   remote: git@github.com:example/homebrew-tap.git
 * scoop:
 *   bin: kiln.exe
 * ```
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Failure, failure } from "../engine/failure.ts";
import { describe, formatPath, unknownKeyMessage, valueAt } from "../engine/yaml_hints.ts";
import { locate, SYNTAX_FIX } from "../iso/catalog_errors.ts";
import {
  type FormulaSpec,
  type FormulaSpecInput,
  formulaSpecSchema,
  knownKeys,
} from "./spec_schema.ts";

export type { FormulaSpec, FormulaSpecInput, GitIdentity, RepoSpec } from "./spec_schema.ts";

/** Reason of every spec failure. */
export const SPEC_INVALID = "formula-spec-invalid";

type Path = (string | number)[];

/** zod's type names as a spec author would say them. */
const KINDS: Record<string, string> = {
  string: "a string",
  array: "a list",
  object: "a map",
  boolean: "true or false",
  number: "a number",
};

/** `must be X, got Y; fix` for one zod issue. */
function wording(issue: z.ZodIssue, raw: unknown): { path: Path; text: string; typo?: boolean } {
  const path = issue.path;
  const got = valueAt(raw, path);
  const show = (v: unknown) =>
    typeof v === "string"
      ? JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
      : describe(v);
  const key = (p: Path) => (p.length === 0 ? "the spec" : `key ${JSON.stringify(formatPath(p))}`);
  switch (issue.code) {
    case "unrecognized_keys": {
      const at = [...path, issue.keys[0]];
      const hint = unknownKeyMessage(issue.keys[0], knownKeys(path)).replace(
        /^unknown key "[^"]*"; /,
        "",
      );
      return { path: at, text: `${key(at)} is not known; ${hint} and rerun`, typo: true };
    }
    case "invalid_type":
      if (got === undefined) {
        return { path, text: `${key(path)} is missing; add it and rerun` };
      }
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
      if (best) return wording(best, raw);
      const kinds = issue.unionErrors.flatMap((e) => e.issues)
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

/** The first problem of a failed parse, in source order when the source is known. */
function firstProblem(
  error: z.ZodError,
  raw: unknown,
  offsetOf: (p: Path) => number,
): { path: Path; text: string; offset: number } {
  const all = error.issues.map((i) => wording(i, raw));
  const typoIn = new Set(all.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))));
  return all
    .filter((p) =>
      !(p.text.includes("is missing") && typoIn.has(JSON.stringify(p.path.slice(0, -1))))
    )
    .map((p) => ({ ...p, offset: offsetOf(p.path) }))
    .reduce((a, b) => (b.offset < a.offset ? b : a));
}

/**
 * Validates a spec built in code (the release pipeline's way), filling in defaults.
 *
 * @example
 * ```ts
 * const spec = formulaSpec({ name: "kiln", desc: "Build graph", homepage, license: "MIT", url });
 * if ("reason" in spec) throw new Error(spec.message);
 * ```
 */
export function formulaSpec(input: FormulaSpecInput): FormulaSpec | Failure {
  const result = formulaSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const p = firstProblem(result.error, input, () => 0);
  return failure(SPEC_INVALID, `Formula spec (given in code): ${p.text}`);
}

/**
 * Parses and validates spec text; `file` names it in messages, and a relative `tap.path` or
 * `scoop.bucket.path` is taken relative to the file's folder.
 */
export function parseFormulaSpec(source: string, file: string): FormulaSpec | Failure {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  const at = (offset: number) =>
    `Formula spec ${JSON.stringify(file)} line ${lc.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const what = e.code === "DUPLICATE_KEY"
      ? `duplicate key ${JSON.stringify(source.slice(e.pos[0]).match(/^[^:\n]*/)![0].trim())}`
      : e.message.split("\n")[0].replace(/\s+at line \d+.*$/, "").replace(/\.$/, "");
    return failure(
      SPEC_INVALID,
      `${at(e.pos[0])}: invalid YAML: ${what.charAt(0).toLowerCase()}${what.slice(1)}; ${
        SYNTAX_FIX[e.code] ?? "fix the syntax"
      } and rerun`,
    );
  }
  const raw = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return failure(
      SPEC_INVALID,
      `${at(0)}: expected a map of keys (name:, desc:, ...), got ${
        describe(raw)
      }; fix it and rerun`,
    );
  }
  const result = formulaSpecSchema.safeParse(raw);
  if (!result.success) {
    const p = firstProblem(result.error, raw, (path) => locate(doc.contents, path));
    return failure(SPEC_INVALID, `${at(p.offset)}: ${p.text}`);
  }
  const base = dirname(resolve(file));
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const spec = result.data;
  return {
    ...spec,
    ...(spec.tap ? { tap: { ...spec.tap, path: rel(spec.tap.path) } } : {}),
    scoop: spec.scoop.bucket
      ? { ...spec.scoop, bucket: { ...spec.scoop.bucket, path: rel(spec.scoop.bucket.path) } }
      : spec.scoop,
  };
}

/** Reads and validates the spec file at `path` (see {@link parseFormulaSpec}). */
export async function loadFormulaSpec(path: string): Promise<FormulaSpec | Failure> {
  let source: string;
  try {
    source = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return failure(
        SPEC_INVALID,
        `Formula spec ${JSON.stringify(path)} does not exist; check the path and rerun`,
      );
    }
    throw e;
  }
  return parseFormulaSpec(source, path);
}
