/**
 * Loading a Debian package spec: the YAML file (or the object a pipeline builds) that says what
 * goes into a `.deb`: its control fields, which files of the build go where, conffiles,
 * maintainer scripts and the copyright notice.
 *
 * A bad spec is a `deb-spec-invalid` {@link Failure} naming the file, the line and the key, e.g.
 * `Package spec "kiln.deb.yaml" line 4: key "version" must be a Debian version such as "1.2.3-1",
 * got "v1"; fix it and rerun`. Problems found later, while building (a missing source file), name
 * the same place through {@link DebSpec.where}.
 *
 * @example
 * ```yaml
 * name: kiln
 * version: 1.2.3-1
 * architecture: amd64
 * maintainer: Kiln Authors <kiln@example.org>
 * description: |
 *   Content-hashed build graph for OS images
 *   kiln runs a graph of tasks and caches their outputs by content.
 * section: devel
 * priority: optional
 * depends: [libc6 (>= 2.36)]
 * files:
 *   - { src: dist/kiln, dest: /usr/bin/kiln, mode: "0755" }
 *   - { src: conf/, dest: /etc/kiln/ }
 * scripts: { postinst: debian/postinst }
 * copyright: { holder: The kiln authors, years: "2026", license: MIT }
 * ```
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { isScalar } from "yaml";
import { type Failure, failure } from "../engine/failure.ts";
import {
  firstSpecProblem,
  locate,
  parseYamlSpec,
  readSpecText,
  type SpecPath,
} from "../engine/yaml_spec.ts";
import { type DebSpecFields, type DebSpecInput, debSpecSchema, knownKeys } from "./spec_schema.ts";

export type { DebFileFields, DebSpecFields, DebSpecInput } from "./spec_schema.ts";

/** Reason of every spec failure. */
export const SPEC_INVALID = "deb-spec-invalid";

export type { SpecPath };

const DEB_SPEC_KIND = { label: "Package spec", reason: SPEC_INVALID, keys: "name:, version:" };

/** A validated spec, ready for {@link buildDeb}: the fields plus where its relative paths start. */
export interface DebSpec extends DebSpecFields {
  /** Absolute folder that relative `src`, `scripts`, `changelog` and copyright paths start from. */
  readonly root: string;
  /**
   * Names a place of the spec for a message: `Package spec "kiln.deb.yaml" line 12` (or
   * `Package spec (given in code)`), to which callers append `: key "files[0].src" ...`.
   */
  where(path: SpecPath): string;
}

/**
 * Validates a spec built in code (the release pipeline's way). Relative paths start at `root`.
 *
 * @example
 * ```ts
 * const spec = debSpec({ name: "kiln", version: "1.2.3-1", architecture: "amd64", ... }, {
 *   root: Deno.cwd(),
 * });
 * if ("reason" in spec) throw new Error(spec.message);
 * ```
 */
export function debSpec(input: DebSpecInput, opts: { root: string }): DebSpec | Failure {
  const label = "Package spec (given in code)";
  const result = debSpecSchema.safeParse(input);
  if (!result.success) {
    const p = firstSpecProblem(result.error, input, () => 0, knownKeys);
    return failure(SPEC_INVALID, `${label}: ${p.text}`);
  }
  return { ...result.data, root: resolve(opts.root), where: () => label };
}

/**
 * Parses and validates spec text; `file` names it in messages, and relative paths start at its
 * folder unless `opts.root` says otherwise.
 */
export function parseDebSpec(
  source: string,
  file: string,
  opts: { root?: string } = {},
): DebSpec | Failure {
  const src = parseYamlSpec(source, file, DEB_SPEC_KIND);
  if ("reason" in src) return src;
  const { doc, raw } = src;
  // YAML 1.2 reads `mode: 0755` as the number 755: take modes as written, in octal.
  if (Array.isArray(raw.files)) {
    raw.files.forEach((f: unknown, i: number) => {
      const node = doc.getIn(["files", i, "mode"], true);
      if (isScalar(node) && typeof node.value === "number" && node.range) {
        (f as Record<string, unknown>).mode = source.slice(node.range[0], node.range[1]).trim();
      }
    });
  }
  const result = debSpecSchema.safeParse(raw);
  if (!result.success) {
    const p = firstSpecProblem(
      result.error,
      raw,
      (path) => locate(doc.contents, path),
      knownKeys,
    );
    return failure(SPEC_INVALID, `${src.at(p.offset)}: ${p.text}`);
  }
  const root = resolve(opts.root ?? dirname(resolve(file)));
  return { ...result.data, root, where: src.where };
}

/**
 * Reads and validates the spec file at `path` (see {@link parseDebSpec}).
 *
 * @example
 * ```ts
 * const spec = await loadDebSpec("packaging/kiln.deb.yaml");
 * if ("reason" in spec) throw new Error(spec.message);
 * ```
 */
export async function loadDebSpec(
  path: string,
  opts: { root?: string } = {},
): Promise<DebSpec | Failure> {
  const source = await readSpecText(path, DEB_SPEC_KIND);
  return typeof source === "string" ? parseDebSpec(source, path, opts) : source;
}
