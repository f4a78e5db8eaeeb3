/**
 * Release archives and the URLs they are downloaded from. A formula or manifest is only as good as
 * the pairing of each URL with the digest of the file that will be served there, so the pairing is
 * checked here: an archive's file name must be the last segment of its URL, each OS and CPU has
 * at most one archive, and every digest is computed from the file itself.
 *
 * @module
 */

import { basename } from "node:path";
import { type Failure, failure } from "../engine/failure.ts";
import { hashFile } from "../engine/hash.ts";
import { type Arch, ARCHES, fillTemplate, type FormulaSpec, type Os, OSES } from "./spec_schema.ts";

export type { Arch, Os } from "./spec_schema.ts";

/** A built release archive: which platform it is for and where the file is. */
export interface ReleaseArchive {
  readonly os: Os;
  readonly arch: Arch;
  readonly path: string;
}

/** An archive with its download URL and SHA-256 (lowercase hex). */
export interface HashedArchive extends ReleaseArchive {
  readonly url: string;
  readonly sha256: string;
}

/** The part of a spec that names archives (a whole {@link FormulaSpec} fits). */
export type ArchiveNaming = Pick<FormulaSpec, "url" | "os_names" | "arch_names" | "archive_ext">;

/** Version strings kiln publishes: start with a digit, no spaces or slashes. */
const VERSION = /^[0-9][0-9A-Za-z.+_~-]*$/;

/** A `*-version-invalid` failure for `version`, or null when it is usable. */
export function checkVersion(version: string, reason: string): Failure | null {
  if (VERSION.test(version)) return null;
  const fix = /^v[0-9]/.test(version)
    ? `drop the leading "v" (${JSON.stringify(version.slice(1))})`
    : 'use a version such as "1.2.3"';
  return failure(reason, `Version ${JSON.stringify(version)} cannot be published; ${fix}`);
}

/** The download URL of the archive for `os`/`arch` of `version`. */
export function archiveUrl(spec: ArchiveNaming, version: string, os: Os, arch: Arch): string {
  return fillTemplate(spec.url, {
    version,
    os: spec.os_names[os],
    arch: spec.arch_names[arch],
    ext: spec.archive_ext[os],
  });
}

/** The file name the archive for `os`/`arch` must have: the last segment of its URL. */
export function archiveFileName(
  spec: ArchiveNaming,
  version: string,
  os: Os,
  arch: Arch,
): string {
  return decodeURIComponent(
    new URL(archiveUrl(spec, version, os, arch)).pathname.split("/").pop()!,
  );
}

/**
 * The archives of `version` present in `dir`, found by the names the URL template gives them, in
 * a fixed order (macOS, Linux, Windows; arm64 before x86_64).
 *
 * @example
 * ```ts
 * const archives = await findArchives(spec, "1.2.3", "dist/release");
 * ```
 */
export async function findArchives(
  spec: ArchiveNaming,
  version: string,
  dir: string,
): Promise<ReleaseArchive[]> {
  const found: ReleaseArchive[] = [];
  for (const os of OSES) {
    for (const arch of ARCHES) {
      const path = `${dir}/${archiveFileName(spec, version, os, arch)}`;
      try {
        if ((await Deno.stat(path)).isFile) found.push({ os, arch, path });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }
  return found;
}

/**
 * Pairs each archive with its URL and hashes the file (streamed, never held in memory). Fails
 * with `release-archive-missing`, `release-archive-misnamed` (the file name is not the URL's last
 * segment, so the digest would describe another file) or `release-archive-duplicate`.
 * The result is in the fixed order of {@link findArchives}.
 */
export async function hashArchives(
  spec: ArchiveNaming,
  version: string,
  archives: readonly ReleaseArchive[],
): Promise<HashedArchive[] | Failure> {
  const order = (a: ReleaseArchive) => OSES.indexOf(a.os) * ARCHES.length + ARCHES.indexOf(a.arch);
  const sorted = [...archives].sort((a, b) => order(a) - order(b));
  const out: HashedArchive[] = [];
  for (const a of sorted) {
    if (!OSES.includes(a.os) || !ARCHES.includes(a.arch)) {
      throw new Error(`Archive ${a.path} has an unknown platform ${a.os}/${a.arch}`);
    }
    const prev = out[out.length - 1];
    if (prev && prev.os === a.os && prev.arch === a.arch) {
      return failure(
        "release-archive-duplicate",
        `Two archives for ${a.os} ${a.arch}: ${JSON.stringify(prev.path)} and ${
          JSON.stringify(a.path)
        }; pass one per OS and CPU`,
      );
    }
    const url = archiveUrl(spec, version, a.os, a.arch);
    const expected = archiveFileName(spec, version, a.os, a.arch);
    if (basename(a.path) !== expected) {
      return failure(
        "release-archive-misnamed",
        `Archive ${JSON.stringify(a.path)} for ${a.os} ${a.arch} must be named ${
          JSON.stringify(expected)
        } to match its URL ${JSON.stringify(url)}; rename it or fix the url template`,
      );
    }
    let sha256: string;
    try {
      sha256 = (await hashFile(a.path)).digest;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      return failure(
        "release-archive-missing",
        `Archive ${JSON.stringify(a.path)} for ${a.os} ${a.arch} does not exist; build it first`,
      );
    }
    out.push({ ...a, url, sha256 });
  }
  return out;
}
