/**
 * Release files: everything a published release carries beside its artifacts, written in one
 * step so they always agree: `sbom.cdx.json` (CycloneDX 1.6), `manifest.json`, `SHA256SUMS` and
 * `SHA512SUMS` listing the artifacts, the SBOM and the manifest (so those two are signed too), and
 * a detached OpenPGP signature of each sums file.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { SigningKey } from "../signing/key.ts";
import { isUnlistedInFolder, signedSums, SUMS_FILES } from "./checksums.ts";
import {
  digestReleaseFiles,
  digestText,
  RELEASE_NAME_INVALID,
  type ReleaseFileDigest,
} from "./digest.ts";
import { buildManifest, MANIFEST_FILE, manifestJson, type ReleaseManifest } from "./manifest.ts";
import { buildSbom, SBOM_FILE } from "./sbom.ts";
import { writeFilesAtomic } from "./write.ts";

export {
  isUnlistedFile,
  isUnlistedInFolder,
  SIGNATURE_SUFFIX,
  signedSums,
  SUMS_FILES,
  sumsText,
  writeChecksums,
} from "./checksums.ts";
export type { ChecksumsResult } from "./checksums.ts";
export {
  checkReleaseName,
  digestReleaseFile,
  digestReleaseFiles,
  RELEASE_FILE_MISSING,
  RELEASE_NAME_INVALID,
  type ReleaseFileDigest,
} from "./digest.ts";
export {
  artifactUrl,
  buildManifest,
  inferPlatforms,
  MANIFEST_FILE,
  MANIFEST_INVALID,
  MANIFEST_URL_INVALID,
  type ManifestArtifact,
  ManifestArtifactSchema,
  manifestJson,
  type ManifestOptions,
  type ReleaseManifest,
  ReleaseManifestSchema,
} from "./manifest.ts";
export { buildSbom, npmPurl, parseDenoLock, SBOM_FILE, type SbomOptions } from "./sbom.ts";
export { isoSeconds, releaseDate, SOURCE_DATE_INVALID } from "./source_date.ts";

/** One artifact to release: its name in the folder, and its platforms when not inferred. */
export interface ReleaseArtifact {
  readonly name: string;
  readonly platforms?: readonly string[];
}

/** What {@link writeReleaseFiles} needs. */
export interface ReleaseOptions {
  /** The release folder, holding the artifacts. */
  readonly dir: string;
  /** Artifact names relative to `dir` (or with platforms). */
  readonly artifacts: readonly (string | ReleaseArtifact)[];
  readonly version: string;
  readonly key: SigningKey;
  /** Download URL template, e.g. `https://example.org/{version}/{filename}`. */
  readonly urlTemplate: string;
  /** Release date (usually `releaseDate()`, from `SOURCE_DATE_EPOCH`). */
  readonly date: Date;
  /** The product in the SBOM's metadata; default kiln at its own version. */
  readonly subject?: { readonly name: string; readonly version: string };
  /** `deno.lock` text for the SBOM; default kiln's own. */
  readonly lockText?: string;
}

/** What {@link writeReleaseFiles} wrote. */
export interface ReleaseResult {
  readonly artifacts: readonly ReleaseFileDigest[];
  readonly manifest: ReleaseManifest;
  /** Every file written, relative to the folder, sorted. */
  readonly written: readonly string[];
}

/**
 * Digests the artifacts once, then writes the SBOM, the manifest, the sums and their signatures
 * into `dir`. Nothing is written unless everything succeeded (signing included).
 *
 * @example
 * ```ts
 * const r = await writeReleaseFiles({
 *   dir: "dist", artifacts: ["kiln_0.1.0_amd64.deb"], version: "0.1.0", key,
 *   urlTemplate: "https://dl.example.org/{version}/{filename}", date: new Date(0),
 * });
 * if ("reason" in r) console.error(r.message);
 * ```
 */
export async function writeReleaseFiles(opts: ReleaseOptions): Promise<ReleaseResult | Failure> {
  const arts = opts.artifacts.map((a) => typeof a === "string" ? { name: a } : a);
  const ours = new Set([SBOM_FILE, MANIFEST_FILE]);
  for (const a of arts) {
    if (ours.has(a.name) || await isUnlistedInFolder(opts.dir, a.name)) {
      return failure(
        RELEASE_NAME_INVALID,
        `Artifact ${JSON.stringify(a.name)} is a signature, checksum, manifest or SBOM file, ` +
          `which kiln writes itself; drop it from the artifact list`,
      );
    }
  }
  const digests = await digestReleaseFiles(opts.dir, [...new Set(arts.map((a) => a.name))]);
  if ("reason" in digests) return digests;
  const platforms = new Map(arts.filter((a) => a.platforms).map((a) => [a.name, a.platforms!]));

  const sbom = buildSbom({
    files: digests,
    date: opts.date,
    subject: opts.subject,
    lockText: opts.lockText,
  });
  if (typeof sbom !== "string") return sbom;
  const manifest = buildManifest({
    version: opts.version,
    date: opts.date,
    files: digests,
    urlTemplate: opts.urlTemplate,
    platforms: (name) => platforms.get(name),
    signature: () => `${SUMS_FILES.sha256}.asc`,
  });
  if ("reason" in manifest) return manifest;
  const manifestText = manifestJson(manifest);
  const listed = [...digests, digestText(SBOM_FILE, sbom), digestText(MANIFEST_FILE, manifestText)];
  const files = {
    [SBOM_FILE]: sbom,
    [MANIFEST_FILE]: manifestText,
    ...await signedSums(listed, opts.key),
  };
  await writeFilesAtomic(opts.dir, files);
  return { artifacts: digests, manifest, written: Object.keys(files).sort() };
}
