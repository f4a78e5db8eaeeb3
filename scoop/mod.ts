/**
 * Scoop releases: the app manifest of a version, from the formula spec `homebrew/` reads, and its
 * publication to a bucket repository.
 *
 * @example
 * ```ts
 * import { renderScoopManifest, scoopManifest } from "./scoop/mod.ts";
 * const m = await scoopManifest(spec, "1.2.3", archives, { ifNoWindows: "skip" });
 * ```
 *
 * @module
 */

export { manifestPath, publishScoopManifest, type ScoopPublishOptions } from "./bucket.ts";
export {
  renderScoopManifest,
  SCOOP_ARCH,
  type ScoopCheckver,
  type ScoopDownload,
  scoopLicense,
  type ScoopManifest,
  scoopManifest,
  type ScoopManifestOptions,
} from "./manifest.ts";
