/**
 * kiln's `.deb` writer: a YAML (or in-code) package spec in, a reproducible Debian package out,
 * with no dpkg needed. Re-exports only, one line per module.
 *
 * @example
 * ```ts
 * import { buildDeb, loadDebSpec } from "./deb/mod.ts";
 * const spec = await loadDebSpec("packaging/kiln.deb.yaml");
 * if ("reason" in spec) throw new Error(spec.message);
 * const deb = await buildDeb(spec, { outDir: "dist" });
 * ```
 *
 * @module
 */

export { buildDeb, type BuildDebOptions, type BuiltDeb, debFileName } from "./build_deb.ts";
export {
  type DebSpec,
  debSpec,
  type DebSpecInput,
  loadDebSpec,
  parseDebSpec,
  SPEC_INVALID,
  type SpecPath,
} from "./spec.ts";
export { type Compression, type XzBackend } from "./compress.ts";
export { formatDescription, renderControl } from "./control.ts";
export { isDebianVersion, isRelation } from "./spec_schema.ts";
