/**
 * The release folder's own files: `SHA256SUMS` and `SHA512SUMS` with their signatures,
 * `manifest.json` and the CycloneDX SBOM, over every archive, the .deb and the public key.
 *
 * @module
 */

import { fn, type Task } from "../engine/task.ts";
import {
  ARCHIVE_PLATFORMS,
  archiveName,
  archiveTaskId,
  platformLabel,
  RELEASE_DIR,
} from "./release_archives.ts";
import { KEY_TASK, PUBLIC_KEY, releaseKey, SIGNING_ENV } from "./release_signing.ts";
import { releaseEpoch } from "./release_date.ts";

/** Where kiln's release files are downloaded from; `{filename}` is each file's name. */
export const DOWNLOAD_URL = "https://github.com/kiln-build/kiln/releases/download/v{version}/" +
  "{filename}";

/**
 * The files `release:files` writes into the release folder (spelled out rather than imported from
 * `release/`, which would load OpenPGP and CycloneDX whenever the pipelines load).
 */
export const RELEASE_FILES = [
  "SHA256SUMS",
  "SHA256SUMS.asc",
  "SHA512SUMS",
  "SHA512SUMS.asc",
  "manifest.json",
  "sbom.cdx.json",
].map((f) => `${RELEASE_DIR}/${f}`);

/** The task writing checksums, signatures, manifest and SBOM, given the .deb's name and task. */
export function releaseFilesTask(version: string, deb: { task: string; file: string }): Task {
  const artifacts = [
    ...ARCHIVE_PLATFORMS.map((p) => ({
      name: archiveName(version, p),
      platforms: [platformLabel(p)],
    })),
    { name: deb.file.split("/").pop()! }, // platforms from the name (_all.deb, or none: all)
    { name: PUBLIC_KEY.split("/").pop()! },
  ];
  return {
    id: "release:files",
    description: "SHA256SUMS, SHA512SUMS (signed), manifest.json and the CycloneDX SBOM",
    deps: [...ARCHIVE_PLATFORMS.map(archiveTaskId), deb.task, KEY_TASK],
    inputs: ["deno.lock"],
    params: { version, url: DOWNLOAD_URL },
    env: ["SOURCE_DATE_EPOCH", ...SIGNING_ENV.env!],
    secretEnv: SIGNING_ENV.secretEnv,
    outputs: RELEASE_FILES,
    action: fn(import.meta.url, async (ctx) => {
      const epoch = releaseEpoch(ctx.env);
      if (typeof epoch !== "number") return epoch;
      const key = await releaseKey(ctx, PUBLIC_KEY);
      if ("reason" in key) return key;
      const { writeReleaseFiles } = await import("../release/mod.ts");
      const r = await writeReleaseFiles({
        dir: ctx.path(RELEASE_DIR),
        artifacts,
        version,
        key: key.key,
        urlTemplate: DOWNLOAD_URL,
        date: new Date(epoch * 1000),
        lockText: await Deno.readTextFile(ctx.path("deno.lock")),
      });
      if ("reason" in r) return r;
      ctx.log(`signed by ${key.key.fingerprint}: ${r.written.join(", ")}`);
    }),
  };
}
