/**
 * Releasing to a Homebrew tap: render the formula for a version from the built archives, check it
 * with `ruby -c`, and publish it as `Formula/<name>.rb` in the tap repository with a commit named
 * after the version (`kiln 1.2.3`, or `kiln 1.2.3 (new formula)` the first time, as in
 * homebrew-core), pushed when the tap has a remote. Re-releasing the same archives makes no
 * commit.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { ReleaseArchive } from "./archives.ts";
import { buildFormula } from "./formula.ts";
import { publishFile, type PublishOptions, type PublishResult } from "./git_publish.ts";
import { checkRubySyntax } from "./ruby_check.ts";
import type { FormulaSpec, RepoSpec } from "./spec_schema.ts";

/** Options for {@link publishFormula}. */
export interface FormulaPublishOptions extends PublishOptions {
  /** The tap to publish to (default: the spec's `tap`). */
  readonly tap?: RepoSpec;
  /** Check the formula with `ruby -c` before publishing (default true; needs ruby). */
  readonly rubyCheck?: boolean;
}

/** Where a formula lives in a tap. */
export function formulaPath(name: string): string {
  return `Formula/${name}.rb`;
}

/**
 * Builds the formula of `version` from `archives` and publishes it to the tap. Fails with
 * `tap-not-configured`, the failures of `buildFormula`, `checkRubySyntax` and `publishFile`.
 *
 * @example
 * ```ts
 * const spec = await loadFormulaSpec("kiln.formula.yaml");
 * if ("reason" in spec) return spec;
 * const archives = await findArchives(spec, "1.2.3", "dist/release");
 * const result = await publishFormula(spec, "1.2.3", archives);
 * // { committed: true, pushed: true, message: "kiln 1.2.3", ... }
 * ```
 */
export async function publishFormula(
  spec: FormulaSpec,
  version: string,
  archives: readonly ReleaseArchive[],
  opts: FormulaPublishOptions = {},
): Promise<PublishResult | Failure> {
  const tap = opts.tap ?? spec.tap;
  if (!tap) {
    return failure(
      "tap-not-configured",
      `Formula spec for ${JSON.stringify(spec.name)} has no tap; add tap: { path: ... } to it`,
    );
  }
  const text = await buildFormula(spec, version, archives);
  if (typeof text !== "string") return text;
  const file = formulaPath(spec.name);
  if (opts.rubyCheck !== false) {
    const bad = await checkRubySyntax(text, file);
    if (bad) return bad;
  }
  return await publishFile(
    tap,
    file,
    text,
    (isNew) => `${spec.name} ${version}${isNew ? " (new formula)" : ""}`,
    opts,
  );
}
