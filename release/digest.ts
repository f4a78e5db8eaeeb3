/**
 * The facts every release file carries in the checksums, the manifest and the SBOM: size, SHA-256
 * and SHA-512, computed in one read of each file (release artifacts are OS images of gigabytes,
 * so reading them once instead of three times matters).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type Failure, failure } from "../engine/failure.ts";

/** A release file name is absolute, escapes the folder, or has characters checksum lines cannot carry. */
export const RELEASE_NAME_INVALID = "release-name-invalid";

/** A listed release file is missing or unreadable. */
export const RELEASE_FILE_MISSING = "release-file-missing";

/** One release file: its name relative to the release folder, size and digests (lowercase hex). */
export interface ReleaseFileDigest {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  readonly sha512: string;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Checks that `name` is a plain relative path inside the release folder (`a.iso`, `debs/a.deb`)
 * without backslashes or control characters, which GNU checksum lines would have to escape.
 */
export function checkReleaseName(name: string): Failure | null {
  const bad = (why: string) =>
    failure(RELEASE_NAME_INVALID, `Release file ${JSON.stringify(name)} ${why}; rename it`);
  if (name === "" || name.startsWith("/")) return bad("must be a path relative to the folder");
  // deno-lint-ignore no-control-regex
  if (/[\\\x00-\x1f\x7f]/.test(name)) return bad("has a backslash or control character");
  if (name.split("/").some((s) => s === "" || s === "." || s === "..")) {
    return bad('must not have empty, "." or ".." path segments');
  }
  return null;
}

/** Orders names by their UTF-8 bytes, as `LC_ALL=C sort` does. */
export function compareBytes(a: string, b: string): number {
  const enc = new TextEncoder();
  const x = enc.encode(a), y = enc.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

/**
 * Size, SHA-256 and SHA-512 of `dir/name`, streaming the file once in 4 MiB chunks.
 *
 * @example
 * ```ts
 * const d = await digestReleaseFile("dist", "kiln_0.1.0_amd64.deb");
 * if (!("reason" in d)) console.log(d.sha256);
 * ```
 */
export async function digestReleaseFile(
  dir: string,
  name: string,
): Promise<ReleaseFileDigest | Failure> {
  const invalid = checkReleaseName(name);
  if (invalid) return invalid;
  let f: Deno.FsFile;
  try {
    f = await Deno.open(`${dir}/${name}`, { read: true });
  } catch (e) {
    return failure(
      RELEASE_FILE_MISSING,
      `Release file ${JSON.stringify(name)} cannot be read in ${JSON.stringify(dir)} (${
        e instanceof Error ? e.name : "error"
      }); build it first or drop it from the artifact list`,
    );
  }
  try {
    const s256 = createHash("sha256"), s512 = createHash("sha512");
    const buf = new Uint8Array(CHUNK);
    let size = 0;
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      s256.update(chunk);
      s512.update(chunk);
      size += n;
    }
    return { name, size, sha256: s256.digest("hex"), sha512: s512.digest("hex") };
  } finally {
    f.close();
  }
}

/** {@link digestReleaseFile} for each name, in order; the first failure stops it. */
export async function digestReleaseFiles(
  dir: string,
  names: readonly string[],
): Promise<ReleaseFileDigest[] | Failure> {
  const out: ReleaseFileDigest[] = [];
  for (const name of names) {
    const d = await digestReleaseFile(dir, name);
    if ("reason" in d) return d;
    out.push(d);
  }
  return out;
}

/** The digest of release file `name` whose content is `text` (a file kiln is about to write). */
export function digestText(name: string, text: string): ReleaseFileDigest {
  const bytes = new TextEncoder().encode(text);
  return {
    name,
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    sha512: createHash("sha512").update(bytes).digest("hex"),
  };
}
