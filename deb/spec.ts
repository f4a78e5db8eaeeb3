/**
 * Loading a Debian package spec: the YAML file (or the object a pipeline builds) that says what
 * goes into a `.deb`: its control fields, which files of the build go where, conffiles,
 * maintainer scripts and the copyright notice.
 *
 * A bad spec is a `deb-spec-invalid` {@link Failure} naming the file, the line and the key, e.g.
 * `Package spec "kiln.deb.yaml" line 4: key "version" must be a Debian version such as "1.2.3-1",
 * got "v1"; fix it and rerun`. Problems found later, while building (a missing source file), name
 * the same place through {@link DebSpec.where}.
 *
 * @example
 * ```yaml
 * name: kiln
 * version: 1.2.3-1
 * architecture: amd64
 * maintainer: Kiln Authors <kiln@example.org>
 * description: |
 *   Content-hashed build graph for OS images
 *   kiln runs a graph of tasks and caches their outputs by content.
 * section: devel
 * priority: optional
 * depends: [libc6 (>= 2.36)]
 * files:
 *   - { src: dist/kiln, dest: /usr/bin/kiln, mode: "0755" }
 *   - { src: conf/, dest: /etc/kiln/ }
 * scripts: { postinst: debian/postinst }
 * copyright: { holder: The kiln authors, years: "2026", license: MIT }
 * ```
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { isScalar, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Failure, failure } from "../engine/failure.ts";
import { describe, formatPath, unknownKeyMessage, valueAt } from "../engine/yaml_hints.ts";
import { locate, SYNTAX_FIX } from "../iso/catalog_errors.ts";
import { type DebSpecFields, type DebSpecInput, debSpecSchema, knownKeys } from "./spec_schema.ts";

export type { DebFileFields, DebSpecFields, DebSpecInput } from "./spec_schema.ts";

/** Reason of every spec failure. */
export const SPEC_INVALID = "deb-spec-invalid";

/** A key path into a spec, e.g. `["files", 2, "src"]`. */
export type SpecPath = (string | number)[];

/** A validated spec, ready for {@link buildDeb}: the fields plus where its relative paths start. */
export interface DebSpec extends DebSpecFields {
  /** Absolute folder that relative `src`, `scripts`, `changelog` and copyright paths start from. */
  readonly root: string;
  /**
   * Names a place of the spec for a message: `Package spec "kiln.deb.yaml" line 12` (or
   * `Package spec (given in code)`), to which callers append `: key "files[0].src" ...`.
   */
  where(path: SpecPath): string;
}

/** `must be X, got Y; fix` for one zod issue. */
function wording(
  issue: z.ZodIssue,
  raw: unknown,
): { path: SpecPath; text: string; typo?: boolean } {
  const path = issue.path;
  const got = valueAt(raw, path);
  const show = (v: unknown) =>
    typeof v === "string"
      ? JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
      : describe(v);
  const key = (p: SpecPath) => JSON.stringify(formatPath(p));
  switch (issue.code) {
    case "unrecognized_keys": {
      const at = [...path, issue.keys[0]];
      const hint = unknownKeyMessage(issue.keys[0], knownKeys(path))
        .replace(/^unknown key "[^"]*"; /, "");
      return { path: at, text: `key ${key(at)} is not known; ${hint} and rerun`, typo: true };
    }
    case "invalid_type":
      if (got === undefined) return { path, text: `key ${key(path)} is missing; add it and rerun` };
      return {
        path,
        text: `key ${key(path)} must be ${
          issue.expected === "array"
            ? "a list"
            : issue.expected === "object"
            ? "a map"
            : issue.expected
        }, got ${describe(got)}; fix it and rerun`,
      };
    case "invalid_enum_value":
      return {
        path,
        text: `key ${key(path)} must be one of ${issue.options.join(", ")}, got ${
          show(got)
        }; write one of them and rerun`,
      };
    case "invalid_union": {
      const deeper = issue.unionErrors.flatMap((e) => e.issues)
        .filter((i) => i.code !== "invalid_type");
      if (deeper.length > 0) return wording(deeper[0], raw);
      return {
        path,
        text: `key ${key(path)} has the wrong type, got ${describe(got)}; fix it and rerun`,
      };
    }
    default: {
      const [must, fix] = issue.message.split("|");
      const value = got === undefined || typeof got === "object" ? "" : `, got ${show(got)}`;
      return { path, text: `key ${key(path)} ${must}${value}; ${fix ?? "fix it"} and rerun` };
    }
  }
}

/** The first problem of a failed parse, in source order when the source is known. */
function firstProblem(
  error: z.ZodError,
  raw: unknown,
  offsetOf: (p: SpecPath) => number,
): { path: SpecPath; text: string; offset: number } {
  const all = error.issues.map((i) => wording(i, raw));
  const typoIn = new Set(
    all.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))),
  );
  return all
    .filter((p) =>
      !(p.text.includes("is missing") && typoIn.has(JSON.stringify(p.path.slice(0, -1))))
    )
    .map((p) => ({ ...p, offset: offsetOf(p.path) }))
    .reduce((a, b) => (b.offset < a.offset ? b : a));
}

/**
 * Validates a spec built in code (the release pipeline's way). Relative paths start at `root`.
 *
 * @example
 * ```ts
 * const spec = debSpec({ name: "kiln", version: "1.2.3-1", architecture: "amd64", ... }, {
 *   root: Deno.cwd(),
 * });
 * if ("reason" in spec) throw new Error(spec.message);
 * ```
 */
export function debSpec(input: DebSpecInput, opts: { root: string }): DebSpec | Failure {
  const label = "Package spec (given in code)";
  const result = debSpecSchema.safeParse(input);
  if (!result.success) {
    const p = firstProblem(result.error, input, () => 0);
    return failure(SPEC_INVALID, `${label}: ${p.text}`);
  }
  return { ...result.data, root: resolve(opts.root), where: () => label };
}

/**
 * Parses and validates spec text; `file` names it in messages, and relative paths start at its
 * folder unless `opts.root` says otherwise.
 */
export function parseDebSpec(
  source: string,
  file: string,
  opts: { root?: string } = {},
): DebSpec | Failure {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  const label = `Package spec ${JSON.stringify(file)}`;
  const at = (offset: number) => `${label} line ${lc.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const what = e.message.split("\n")[0].replace(/\s+at line \d+.*$/, "").replace(/\.$/, "");
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
      `${at(0)}: expected a map of keys (name:, version:, ...), got ${
        describe(raw)
      }; fix it and rerun`,
    );
  }
  // YAML 1.2 reads `mode: 0755` as the number 755: take modes as written, in octal.
  if (Array.isArray(raw.files)) {
    raw.files.forEach((f: unknown, i: number) => {
      const node = doc.getIn(["files", i, "mode"], true);
      if (isScalar(node) && typeof node.value === "number" && node.range) {
        (f as Record<string, unknown>).mode = source.slice(node.range[0], node.range[1]).trim();
      }
    });
  }
  const result = debSpecSchema.safeParse(raw);
  if (!result.success) {
    const p = firstProblem(result.error, raw, (path) => locate(doc.contents, path));
    return failure(SPEC_INVALID, `${at(p.offset)}: ${p.text}`);
  }
  const root = resolve(opts.root ?? dirname(resolve(file)));
  return { ...result.data, root, where: (path) => at(locate(doc.contents, path)) };
}

/**
 * Reads and validates the spec file at `path` (see {@link parseDebSpec}).
 *
 * @example
 * ```ts
 * const spec = await loadDebSpec("packaging/kiln.deb.yaml");
 * if ("reason" in spec) throw new Error(spec.message);
 * ```
 */
export async function loadDebSpec(
  path: string,
  opts: { root?: string } = {},
): Promise<DebSpec | Failure> {
  let source: string;
  try {
    source = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return failure(
        SPEC_INVALID,
        `Package spec ${JSON.stringify(path)} does not exist; check the path and rerun`,
      );
    }
    throw e;
  }
  return parseDebSpec(source, path, opts);
}
