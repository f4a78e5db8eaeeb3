/**
 * Homebrew releases: a formula spec (YAML or an object), the formula rendered from it and the
 * built archives, and its publication to a tap repository. `scoop/` reads the same spec.
 *
 * @example
 * ```ts
 * import { findArchives, loadFormulaSpec, publishFormula } from "./homebrew/mod.ts";
 * const spec = await loadFormulaSpec("kiln.formula.yaml");
 * if ("reason" in spec) throw new Error(spec.message);
 * await publishFormula(spec, "1.2.3", await findArchives(spec, "1.2.3", "dist/release"));
 * ```
 *
 * @module
 */

export {
  type Arch,
  archiveFileName,
  archiveUrl,
  findArchives,
  hashArchives,
  type HashedArchive,
  type Os,
  type ReleaseArchive,
} from "./archives.ts";
export { buildFormula, renderFormula } from "./formula.ts";
export {
  DEFAULT_IDENTITY,
  publishFile,
  type PublishOptions,
  type PublishResult,
} from "./git_publish.ts";
export { formulaClassName, rubyString } from "./ruby.ts";
export { checkRubySyntax } from "./ruby_check.ts";
export {
  type FormulaSpec,
  formulaSpec,
  type FormulaSpecInput,
  type GitIdentity,
  loadFormulaSpec,
  parseFormulaSpec,
  type RepoSpec,
  SPEC_INVALID,
} from "./spec.ts";
export { formulaPath, type FormulaPublishOptions, publishFormula } from "./tap.ts";
