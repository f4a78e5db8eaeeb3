/**
 * Small `.deb` fixtures built by the real `dpkg-deb --build` (root-owned files), for tests of
 * code that reads packages or indexes them.
 *
 * @module
 */

import { join } from "node:path";

/** What to build. */
export interface DebSpec {
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
  readonly depends?: string;
  /** `Source:` field, e.g. `hello-src` or `hello-src (1.0-1)`. */
  readonly source?: string;
  /** dpkg-deb's `-Z`: the data member's compression, and the control member's (none → none). */
  readonly compression?: "xz" | "gzip" | "zstd" | "none";
  /** Extra files: path inside the package → contents. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>;
}

/**
 * Builds the package in `dir` (its tree in a subfolder) and returns the `.deb`'s path,
 * `<dir>/<pkg>_<version>_<arch>.deb`.
 *
 * @throws {Error} when dpkg-deb fails
 */
export async function buildDeb(dir: string, s: DebSpec): Promise<string> {
  const tree = join(dir, `tree-${s.pkg}-${s.version}-${s.arch}-${crypto.randomUUID().slice(0, 6)}`);
  Deno.mkdirSync(join(tree, "DEBIAN"), { recursive: true });
  const files = { [`usr/share/doc/${s.pkg}/README`]: `${s.pkg} ${s.version}\n`, ...s.files };
  for (const [path, body] of Object.entries(files)) {
    Deno.mkdirSync(join(tree, path, ".."), { recursive: true });
    if (typeof body === "string") Deno.writeTextFileSync(join(tree, path), body);
    else Deno.writeFileSync(join(tree, path), body);
  }
  Deno.writeTextFileSync(
    join(tree, "DEBIAN/control"),
    `Package: ${s.pkg}\n` +
      (s.source ? `Source: ${s.source}\n` : "") +
      `Version: ${s.version}\nArchitecture: ${s.arch}\n` +
      `Maintainer: kiln tests <tests@kiln.invalid>\n` +
      (s.depends ? `Depends: ${s.depends}\n` : "") +
      `Section: misc\nPriority: optional\nHomepage: https://kiln.invalid/${s.pkg}\n` +
      `Description: ${s.pkg} for kiln's tests\n A package kiln's tests build.\n .\n` +
      ` Second paragraph.\n`,
  );
  const out = join(dir, `${s.pkg}_${s.version.replace(/^\d+:/, "")}_${s.arch}.deb`);
  const r = await new Deno.Command("dpkg-deb", {
    args: ["--root-owner-group", `-Z${s.compression ?? "xz"}`, "--build", tree, out],
    stdout: "null",
    stderr: "piped",
  }).output();
  Deno.removeSync(tree, { recursive: true });
  if (!r.success) throw new Error(`dpkg-deb failed: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}
