/**
 * Releasing to a Scoop bucket: the manifest of a version written as `bucket/<name>.json` in the
 * bucket's git repository, committed as Scoop's buckets do (`kiln: Update to version 1.2.3`, or
 * `kiln: Add version 1.2.3` the first time) and pushed when the bucket has a remote. Re-releasing
 * the same archives makes no commit. The git side is the tap's (`homebrew/git_publish.ts`).
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { ReleaseArchive } from "../homebrew/archives.ts";
import { publishFile, type PublishOptions, type PublishResult } from "../homebrew/git_publish.ts";
import type { FormulaSpec, RepoSpec } from "../homebrew/spec_schema.ts";
import { renderScoopManifest, scoopManifest, type ScoopManifestOptions } from "./manifest.ts";

/** Options for {@link publishScoopManifest}. */
export interface ScoopPublishOptions extends PublishOptions, ScoopManifestOptions {
  /** The bucket to publish to (default: the spec's `scoop.bucket`). */
  readonly bucket?: RepoSpec;
}

/** Where a manifest lives in a bucket. */
export function manifestPath(name: string): string {
  return `bucket/${name}.json`;
}

/**
 * Builds the manifest of `version` and publishes it to the bucket. Returns null when there is no
 * Windows archive and `ifNoWindows` is `"skip"`. Fails with `scoop-bucket-not-configured`, the
 * failures of `scoopManifest` and of `publishFile`.
 *
 * @example
 * ```ts
 * const r = await publishScoopManifest(spec, "1.2.3", archives, { ifNoWindows: "skip" });
 * ```
 */
export async function publishScoopManifest(
  spec: FormulaSpec,
  version: string,
  archives: readonly ReleaseArchive[],
  opts: ScoopPublishOptions = {},
): Promise<PublishResult | null | Failure> {
  const bucket = opts.bucket ?? spec.scoop.bucket;
  if (!bucket) {
    return failure(
      "scoop-bucket-not-configured",
      `Formula spec for ${
        JSON.stringify(spec.name)
      } has no Scoop bucket; add scoop.bucket: { path: ... } to it`,
    );
  }
  const manifest = await scoopManifest(spec, version, archives, opts);
  if (manifest === null || "reason" in manifest) return manifest;
  return await publishFile(
    bucket,
    manifestPath(spec.name),
    renderScoopManifest(manifest),
    (isNew) => `${spec.name}: ${isNew ? "Add" : "Update to"} version ${version}`,
    opts,
  );
}
