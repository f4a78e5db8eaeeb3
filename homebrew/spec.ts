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
import { type Failure, failure } from "../engine/failure.ts";
import { firstSpecProblem, locate, parseYamlSpec, readSpecText } from "../engine/yaml_spec.ts";
import {
  type FormulaSpec,
  type FormulaSpecInput,
  formulaSpecSchema,
  knownKeys,
} from "./spec_schema.ts";

export type { FormulaSpec, FormulaSpecInput, GitIdentity, RepoSpec } from "./spec_schema.ts";

/** Reason of every spec failure. */
export const SPEC_INVALID = "formula-spec-invalid";

const FORMULA_SPEC_KIND = { label: "Formula spec", reason: SPEC_INVALID, keys: "name:, desc:" };

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
  const p = firstSpecProblem(result.error, input, () => 0, knownKeys);
  return failure(SPEC_INVALID, `Formula spec (given in code): ${p.text}`);
}

/**
 * Parses and validates spec text; `file` names it in messages, and a relative `tap.path` or
 * `scoop.bucket.path` is taken relative to the file's folder.
 */
export function parseFormulaSpec(source: string, file: string): FormulaSpec | Failure {
  const src = parseYamlSpec(source, file, FORMULA_SPEC_KIND);
  if ("reason" in src) return src;
  const result = formulaSpecSchema.safeParse(src.raw);
  if (!result.success) {
    const p = firstSpecProblem(
      result.error,
      src.raw,
      (path) => locate(src.doc.contents, path),
      knownKeys,
    );
    return failure(SPEC_INVALID, `${src.at(p.offset)}: ${p.text}`);
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
  const source = await readSpecText(path, FORMULA_SPEC_KIND);
  return typeof source === "string" ? parseFormulaSpec(source, path) : source;
}
