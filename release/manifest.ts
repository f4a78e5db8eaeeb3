/**
 * `manifest.json`: the machine-readable list of a release's artifacts (size, both checksums, the
 * signature that covers each, platforms, download URL) for installers, mirrors and web pages. It
 * is deterministic: fixed key order, artifacts sorted bytewise by name, the date from
 * `SOURCE_DATE_EPOCH`. The zod schema is exported so consumers can validate what they download.
 *
 * @module
 */

import { z } from "zod";
import { type Failure, failure } from "../engine/failure.ts";
import { compareBytes, type ReleaseFileDigest } from "./digest.ts";
import { isoSeconds } from "./source_date.ts";

/** The URL template does not give a valid absolute URL. */
export const MANIFEST_URL_INVALID = "manifest-url-invalid";

/** A manifest field is out of shape (an empty version, a platform like "amd64"). */
export const MANIFEST_INVALID = "manifest-invalid";

/** The manifest's file name in the release folder. */
export const MANIFEST_FILE = "manifest.json";

/** One artifact of a release. */
export const ManifestArtifactSchema = z.object({
  filename: z.string().min(1),
  size_bytes: z.number().int().nonnegative(),
  checksum_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  checksum_sha512: z.string().regex(/^[0-9a-f]{128}$/),
  /** The detached signature that covers the file: `SHA256SUMS.asc`, or a per-file `.asc`. */
  signature: z.string().min(1),
  /** `<os>-<arch>` such as `linux-amd64`, or `all` for architecture-independent files. */
  platforms: z.array(z.string().regex(/^(all|[a-z0-9]+-[a-z0-9_]+)$/)).min(1),
  url: z.string().url(),
}).strict();

/** A whole `manifest.json`. */
export const ReleaseManifestSchema = z.object({
  version: z.string().min(1),
  /** ISO 8601 UTC, e.g. `2024-05-01T12:00:00Z`. */
  release_date: z.string().datetime(),
  artifacts: z.array(ManifestArtifactSchema),
}).strict();

/** One artifact entry of {@link ReleaseManifest}. */
export type ManifestArtifact = z.infer<typeof ManifestArtifactSchema>;

/** The parsed form of `manifest.json`. */
export type ReleaseManifest = z.infer<typeof ReleaseManifestSchema>;

/** What goes into a manifest. */
export interface ManifestOptions {
  readonly version: string;
  /** The release date, usually from `releaseDate()` (`SOURCE_DATE_EPOCH`). */
  readonly date: Date;
  readonly files: readonly ReleaseFileDigest[];
  /**
   * Download URL of each file: a template with `{filename}` (and optionally `{version}`), e.g.
   * `https://example.org/releases/{version}/{filename}`, or a base URL the name is appended to.
   */
  readonly urlTemplate: string;
  /** Platforms of a file; when absent or returning `undefined`, {@link inferPlatforms}. */
  readonly platforms?: (filename: string) => readonly string[] | undefined;
  /** The signature covering a file; default `SHA256SUMS.asc`. */
  readonly signature?: (filename: string) => string;
}

/**
 * Builds the manifest for `files`, sorted bytewise by name.
 *
 * @example
 * ```ts
 * const m = buildManifest({ version: "1.2.0", date, files, urlTemplate: "https://dl.example.org/{version}/{filename}" });
 * if (!("reason" in m)) await Deno.writeTextFile("dist/manifest.json", manifestJson(m));
 * ```
 */
export function buildManifest(opts: ManifestOptions): ReleaseManifest | Failure {
  const artifacts: ManifestArtifact[] = [];
  for (const f of [...opts.files].sort((a, b) => compareBytes(a.name, b.name))) {
    const url = artifactUrl(opts.urlTemplate, opts.version, f.name);
    if (typeof url !== "string") return url;
    const platforms = [...new Set(opts.platforms?.(f.name) ?? inferPlatforms(f.name))].sort();
    artifacts.push({
      filename: f.name,
      size_bytes: f.size,
      checksum_sha256: f.sha256,
      checksum_sha512: f.sha512,
      signature: opts.signature?.(f.name) ?? "SHA256SUMS.asc",
      platforms,
      url,
    });
  }
  const manifest = {
    version: opts.version,
    release_date: isoSeconds(opts.date),
    artifacts,
  };
  const checked = ReleaseManifestSchema.safeParse(manifest);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return failure(
      "manifest-invalid",
      `Release manifest field ${
        JSON.stringify(issue.path.join("."))
      } ${issue.message.toLowerCase()}; fix the version, platforms or URL template`,
    );
  }
  return manifest;
}

/** The manifest as written: keys in schema order, 2-space indent, final LF. */
export function manifestJson(m: ReleaseManifest): string {
  const ordered = {
    version: m.version,
    release_date: m.release_date,
    artifacts: m.artifacts.map((a) => ({
      filename: a.filename,
      size_bytes: a.size_bytes,
      checksum_sha256: a.checksum_sha256,
      checksum_sha512: a.checksum_sha512,
      signature: a.signature,
      platforms: a.platforms,
      url: a.url,
    })),
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** The download URL of `filename` from `template` (see {@link ManifestOptions.urlTemplate}). */
export function artifactUrl(template: string, version: string, filename: string): string | Failure {
  const path = filename.split("/").map(encodeURIComponent).join("/");
  const withName = template.includes("{filename}")
    ? template
    : `${template.replace(/\/+$/, "")}/{filename}`;
  const url = withName.replaceAll("{version}", encodeURIComponent(version))
    .replaceAll("{filename}", path);
  try {
    const u = new URL(url);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http(s)");
    return url;
  } catch {
    return failure(
      MANIFEST_URL_INVALID,
      `Release URL template ${JSON.stringify(template)} does not give an http(s) URL ` +
        `(got ${JSON.stringify(url)}); write it like "https://example.org/{version}/{filename}"`,
    );
  }
}

const ARCHES: readonly [string, string][] = [
  ["amd64|x86_64|x64", "amd64"],
  ["arm64|aarch64", "arm64"],
  ["armhf|armv7hl|armv7l?", "armhf"],
  ["i386|i686", "i386"],
  ["ppc64el|ppc64le", "ppc64el"],
  ["riscv64", "riscv64"],
  ["s390x", "s390x"],
];

/** `alias` as a whole word of a file name (between non-alphanumerics, `_` included). */
const word = (alias: string) => new RegExp(`(?:^|[^a-z0-9])(?:${alias})(?=$|[^a-z0-9])`);

/**
 * Platforms guessed from a file name's architecture token (Debian, RPM and common spellings):
 * `kiln_1.0_amd64.deb` -> `["linux-amd64"]`, `disk-aarch64.qcow2` -> `["linux-arm64"]`; names
 * with `all`/`noarch` or no architecture at all -> `["all"]`.
 */
export function inferPlatforms(filename: string): string[] {
  const base = filename.slice(filename.lastIndexOf("/") + 1).toLowerCase();
  const os = word("darwin|macos").test(base)
    ? "darwin"
    : word("windows|win64").test(base)
    ? "windows"
    : "linux";
  const found = ARCHES.filter(([alias]) => word(alias).test(base)).map(([, a]) => `${os}-${a}`);
  return found.length > 0 ? found.sort() : ["all"];
}
