/**
 * Scoop app manifests from the same formula spec as the Homebrew formula: version, description,
 * homepage, license, one `url` and `hash` per Windows CPU (`64bit`, `arm64`), `bin`, `checkver`
 * and an `autoupdate` section with `$version` URL templates whose hashes Scoop reads from the
 * release's checksum file (`SHA256SUMS` by default), so `checkver -u` can bump the manifest on its
 * own. Only Windows zip archives go in: Scoop extracts zip natively.
 *
 * The JSON is deterministic (fixed key order, two-space indent, final newline), so an unchanged
 * release writes the same bytes.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import {
  archiveUrl,
  checkVersion,
  hashArchives,
  type HashedArchive,
  type ReleaseArchive,
} from "../homebrew/archives.ts";
import { type Arch, fillTemplate, type FormulaSpec } from "../homebrew/spec_schema.ts";

/** Scoop's names for the CPUs kiln builds for. */
export const SCOOP_ARCH: Readonly<Record<Arch, "64bit" | "arm64">> = {
  x86_64: "64bit",
  arm64: "arm64",
};

/** One architecture's download. */
export interface ScoopDownload {
  readonly url: string;
  readonly hash: string;
}

/** How Scoop finds new versions: GitHub releases, or a page and a regex. */
export type ScoopCheckver = { readonly github: string } | {
  readonly url: string;
  readonly regex: string;
};

/** A Scoop app manifest, as kiln writes it. */
export interface ScoopManifest {
  readonly version: string;
  readonly description: string;
  readonly homepage: string;
  readonly license: string;
  readonly architecture: { readonly "64bit"?: ScoopDownload; readonly arm64?: ScoopDownload };
  readonly extract_dir?: string;
  readonly bin: string | readonly string[];
  readonly checkver: ScoopCheckver;
  readonly autoupdate: {
    readonly architecture: {
      readonly "64bit"?: { readonly url: string };
      readonly arm64?: { readonly url: string };
    };
    readonly extract_dir?: string;
    readonly hash?: { readonly url: string };
  };
}

/** Options for {@link scoopManifest}. */
export interface ScoopManifestOptions {
  /** With no Windows archive: fail (`scoop-no-windows-archives`, the default) or return null. */
  readonly ifNoWindows?: "fail" | "skip";
}

/** SPDX `A OR B` is Scoop's `A|B` (dual licence); `A AND B` is `A,B`. */
export function scoopLicense(spdx: string): string {
  return spdx.split(" OR ").map((p) => p.split(" AND ").join(",")).join("|");
}

/** `https://github.com/owner/repo` when the spec's URL or homepage is on GitHub. */
function githubRepo(spec: Pick<FormulaSpec, "url" | "homepage">): string | null {
  for (const u of [spec.url, spec.homepage]) {
    const m = u.match(
      /^https:\/\/github\.com\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?(?:\/|$)/,
    );
    if (m) return `https://github.com/${m[1]}/${m[2]}`;
  }
  return null;
}

/** `checkver`, or a failure when the spec gives none and the project is not on GitHub. */
function checkverOf(spec: FormulaSpec): ScoopCheckver | Failure {
  const given = spec.scoop.checkver;
  if (typeof given === "object") return { url: given.url, regex: given.regex };
  const repo = githubRepo(spec);
  if (repo) return { github: repo };
  return failure(
    "scoop-checkver-missing",
    `Scoop manifest for ${
      JSON.stringify(spec.name)
    } cannot check for new versions: neither url nor homepage is on GitHub; add scoop.checkver: { url: ..., regex: ... } to the spec`,
  );
}

/**
 * The manifest of `version` from the Windows archives among `archives` (others are ignored).
 * Fails with `scoop-version-invalid`, `scoop-no-windows-archives` (or returns null with
 * `ifNoWindows: "skip"`), `scoop-archive-not-zip`, `scoop-checkver-missing` or an archive failure
 * of `hashArchives`.
 *
 * @example
 * ```ts
 * const m = await scoopManifest(spec, "1.2.3", [
 *   { os: "windows", arch: "x86_64", path: "dist/kiln-1.2.3-windows-amd64.zip" },
 * ]);
 * if (m && !("reason" in m)) await Deno.writeTextFile("kiln.json", renderScoopManifest(m));
 * ```
 */
export async function scoopManifest(
  spec: FormulaSpec,
  version: string,
  archives: readonly ReleaseArchive[],
  opts: ScoopManifestOptions = {},
): Promise<ScoopManifest | null | Failure> {
  const bad = checkVersion(version, "scoop-version-invalid");
  if (bad) return bad;
  const windows = archives.filter((a) => a.os === "windows");
  if (windows.length === 0) {
    if (opts.ifNoWindows === "skip") return null;
    return failure(
      "scoop-no-windows-archives",
      `Scoop manifest for ${JSON.stringify(spec.name)} ${version} needs a Windows archive and got ${
        archives.length === 0 ? "none" : archives.map((a) => `${a.os} ${a.arch}`).join(", ")
      }; build one or skip Scoop for this release`,
    );
  }
  for (const a of windows) {
    const url = archiveUrl(spec, version, a.os, a.arch);
    if (!new URL(url).pathname.toLowerCase().endsWith(".zip")) {
      return failure(
        "scoop-archive-not-zip",
        `Windows archive URL ${
          JSON.stringify(url)
        } is not a .zip, which Scoop needs; set archive_ext.windows: zip or use {ext} in url`,
      );
    }
  }
  const checkver = checkverOf(spec);
  if ("reason" in checkver) return checkver;
  const hashed = await hashArchives(spec, version, windows);
  if ("reason" in hashed) return hashed;
  const architecture: Record<string, ScoopDownload> = {};
  const templates: Record<string, { url: string }> = {};
  // Scoop's own order: 64bit before arm64.
  for (const arch of ["x86_64", "arm64"] as const) {
    const a = hashed.find((h: HashedArchive) => h.arch === arch);
    if (!a) continue;
    architecture[SCOOP_ARCH[arch]] = { url: a.url, hash: a.sha256 };
    templates[SCOOP_ARCH[arch]] = { url: archiveUrl(spec, "$version", "windows", arch) };
  }
  const extract = spec.scoop.extract_dir;
  return {
    version,
    description: spec.desc,
    homepage: spec.homepage,
    license: scoopLicense(spec.license),
    architecture,
    ...(extract ? { extract_dir: fillTemplate(extract, { version }) } : {}),
    bin: spec.scoop.bin ?? `${spec.name}.exe`,
    checkver,
    autoupdate: {
      architecture: templates,
      ...(extract ? { extract_dir: fillTemplate(extract, { version: "$version" }) } : {}),
      ...(spec.scoop.checksums !== null
        ? { hash: { url: `$baseurl/${spec.scoop.checksums}` } }
        : {}),
    },
  };
}

/** The manifest as JSON with a fixed key order, two-space indent and a final newline. */
export function renderScoopManifest(m: ScoopManifest): string {
  const dl = (d?: ScoopDownload) => (d ? { url: d.url, hash: d.hash } : undefined);
  const tpl = (d?: { url: string }) => (d ? { url: d.url } : undefined);
  const ordered = {
    version: m.version,
    description: m.description,
    homepage: m.homepage,
    license: m.license,
    architecture: { "64bit": dl(m.architecture["64bit"]), arm64: dl(m.architecture.arm64) },
    extract_dir: m.extract_dir,
    bin: m.bin,
    checkver: "github" in m.checkver
      ? { github: m.checkver.github }
      : { url: m.checkver.url, regex: m.checkver.regex },
    autoupdate: {
      architecture: {
        "64bit": tpl(m.autoupdate.architecture["64bit"]),
        arm64: tpl(m.autoupdate.architecture.arm64),
      },
      extract_dir: m.autoupdate.extract_dir,
      hash: m.autoupdate.hash ? { url: m.autoupdate.hash.url } : undefined,
    },
  };
  // JSON.stringify drops the undefined keys, keeping the order of the others.
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
