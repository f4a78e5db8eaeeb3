/**
 * A CycloneDX 1.6 JSON SBOM of a release: the released files (with SHA-256 and SHA-512) and the
 * npm packages kiln is locked to in `deno.lock` (name, version, purl, SHA-512 from the lock's
 * integrity), with the dependency graph between them. Built with `@cyclonedx/cyclonedx-library`.
 *
 * It is reproducible: the timestamp comes from `SOURCE_DATE_EPOCH`, every bom-ref is derived from
 * the component, lists are sorted, and the serial number is a UUID made from the SHA-256 of the
 * rest of the document.
 *
 * @module
 */

import * as CDX from "@cyclonedx/cyclonedx-library";
import { createHash } from "node:crypto";
import { type Failure, failure } from "../engine/failure.ts";
import { compareBytes, type ReleaseFileDigest } from "./digest.ts";

/** `deno.lock` could not be read or has no npm section kiln understands. */
export const SBOM_LOCK_INVALID = "sbom-lock-invalid";

/** The SBOM's file name in the release folder. */
export const SBOM_FILE = "sbom.cdx.json";

/** What goes into an SBOM. */
export interface SbomOptions {
  /** The released files. */
  readonly files: readonly ReleaseFileDigest[];
  /** The release time (from `SOURCE_DATE_EPOCH`): the SBOM's timestamp. */
  readonly date: Date;
  /** The product released (`metadata.component`); default kiln itself at {@link kilnVersion}. */
  readonly subject?: { readonly name: string; readonly version: string };
  /** `deno.lock` text; default kiln's own lock file. */
  readonly lockText?: string;
  /** kiln's version, for `metadata.tools`; default from kiln's `deno.json`. */
  readonly kilnVersion?: string;
}

/** One npm package from `deno.lock`. */
export interface LockedPackage {
  /** The key in the lock's npm section, e.g. `@dagrejs/dagre@1.1.8`. */
  readonly key: string;
  readonly name: string;
  readonly version: string;
  /** SHA-512 (hex) from the lock's `integrity`, when it is a sha512 SRI hash. */
  readonly sha512?: string;
  /** Keys of the packages it depends on. */
  readonly dependencies: readonly string[];
}

/** kiln's own version from its `deno.json`. */
export function kilnVersion(): string {
  const text = Deno.readTextFileSync(new URL("../deno.json", import.meta.url));
  return String(JSON.parse(text).version ?? "0.0.0");
}

/**
 * The npm packages of a `deno.lock` (v4/v5), and the keys of the workspace's direct ones.
 *
 * @example
 * ```ts
 * const lock = parseDenoLock(Deno.readTextFileSync("deno.lock"));
 * ```
 */
export function parseDenoLock(
  text: string,
): { packages: LockedPackage[]; direct: string[] } | Failure {
  let lock: any;
  try {
    lock = JSON.parse(text);
  } catch (e) {
    return failure(SBOM_LOCK_INVALID, `deno.lock is not JSON (${(e as Error).message})`);
  }
  const npm = lock?.npm;
  if (typeof npm !== "object" || npm === null) {
    return failure(SBOM_LOCK_INVALID, `deno.lock has no "npm" section; run "deno install"`);
  }
  const split = (key: string) => {
    const at = key.indexOf("@", 1);
    return { name: key.slice(0, at), version: key.slice(at + 1).split("_")[0] };
  };
  const keys = Object.keys(npm).sort(compareBytes);
  const resolve = (dep: string): string | undefined =>
    npm[dep] ? dep : keys.find((k) => split(k).name === dep);
  const packages = keys.map((key) => {
    const entry = npm[key] ?? {};
    const integrity = typeof entry.integrity === "string" ? entry.integrity : "";
    const deps = Array.isArray(entry.dependencies) ? entry.dependencies as string[] : [];
    return {
      key,
      ...split(key),
      sha512: sriSha512(integrity),
      dependencies: deps.map(resolve).filter((k): k is string => k !== undefined).sort(
        compareBytes,
      ),
    };
  });
  const specifiers: Record<string, string> = lock.specifiers ?? {};
  const direct = new Set<string>();
  for (const spec of (lock.workspace?.dependencies ?? []) as string[]) {
    if (!spec.startsWith("npm:")) continue;
    const name = split(spec.slice(4)).name || spec.slice(4);
    const version = specifiers[spec];
    const key = version ? keys.find((k) => k === `${name}@${version}`) : resolve(name);
    if (key) direct.add(key);
  }
  return { packages, direct: [...direct].sort(compareBytes) };
}

/** The SHA-512 (hex) of an SRI `integrity` value such as `sha512-<base64>`, if it is one. */
function sriSha512(integrity: string): string | undefined {
  if (!integrity.startsWith("sha512-")) return undefined;
  let raw: string;
  try {
    raw = atob(integrity.slice(7));
  } catch {
    return undefined;
  }
  if (raw.length !== 64) return undefined;
  return [...raw].map((ch) => ch.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/** The package URL of an npm package: `pkg:npm/%40scope/name@1.0.0`. */
export function npmPurl(name: string, version: string): string {
  const [scope, bare] = name.startsWith("@") ? name.split("/", 2) : [undefined, name];
  const ns = scope ? `${encodeURIComponent(scope)}/` : "";
  return `pkg:npm/${ns}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

/**
 * The SBOM as CycloneDX 1.6 JSON text (2-space indent, final LF).
 *
 * @example
 * ```ts
 * const json = buildSbom({ files, date: new Date(0) });
 * if (typeof json === "string") await Deno.writeTextFile("dist/sbom.cdx.json", json);
 * ```
 */
export function buildSbom(opts: SbomOptions): string | Failure {
  let lockText = opts.lockText;
  if (lockText === undefined) {
    try {
      lockText = Deno.readTextFileSync(new URL("../deno.lock", import.meta.url));
    } catch (e) {
      return failure(SBOM_LOCK_INVALID, `kiln's deno.lock cannot be read (${(e as Error).name})`);
    }
  }
  const lock = parseDenoLock(lockText);
  if ("reason" in lock) return lock;
  const version = opts.kilnVersion ?? kilnVersion();
  const subject = opts.subject ?? { name: "kiln", version };
  const { ComponentType, HashAlgorithm } = CDX.Enums;

  const bom = new CDX.Models.Bom();
  bom.metadata.timestamp = opts.date;
  bom.metadata.tools.components.add(
    new CDX.Models.Component(ComponentType.Application, "kiln", {
      version,
      bomRef: `tool:kiln@${version}`,
    }),
  );
  const root = new CDX.Models.Component(ComponentType.Application, subject.name, {
    version: subject.version,
    bomRef: `release:${subject.name}@${subject.version}`,
  });
  bom.metadata.component = root;

  for (const f of [...opts.files].sort((a, b) => compareBytes(a.name, b.name))) {
    const c = new CDX.Models.Component(ComponentType.File, f.name, { bomRef: `file:${f.name}` });
    c.hashes.set(HashAlgorithm["SHA-256"], f.sha256);
    c.hashes.set(HashAlgorithm["SHA-512"], f.sha512);
    bom.components.add(c);
  }
  // One component per purl: the lock may hold a package twice, resolved against other peers.
  const byKey = new Map<string, CDX.Models.Component>();
  const byPurl = new Map<string, CDX.Models.Component>();
  for (const p of lock.packages) {
    const purl = npmPurl(p.name, p.version);
    const seen = byPurl.get(purl);
    if (seen) {
      byKey.set(p.key, seen);
      continue;
    }
    const scoped = p.name.startsWith("@");
    const c = new CDX.Models.Component(
      ComponentType.Library,
      scoped ? p.name.slice(p.name.indexOf("/") + 1) : p.name,
      {
        group: scoped ? p.name.slice(0, p.name.indexOf("/")) : undefined,
        version: p.version,
        purl,
        bomRef: purl,
      },
    );
    if (p.sha512) c.hashes.set(HashAlgorithm["SHA-512"], p.sha512);
    byKey.set(p.key, c);
    byPurl.set(purl, c);
    bom.components.add(c);
  }
  for (const p of lock.packages) {
    const c = byKey.get(p.key)!;
    for (const d of p.dependencies) {
      const dep = byKey.get(d)!;
      if (dep !== c) c.dependencies.add(dep.bomRef);
    }
  }
  for (const d of lock.direct) root.dependencies.add(byKey.get(d)!.bomRef);

  const normalizer = new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6).makeForBom();
  const doc = normalizer.normalize(bom, { sortLists: true }) as unknown as Record<string, unknown>;
  delete doc.serialNumber;
  const body = JSON.stringify(doc);
  const serialNumber = `urn:uuid:${contentUuid(body)}`;
  // serialNumber belongs after "version" in the spec's key order.
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === "serialNumber") continue;
    out[k] = v;
    if (k === "version") out.serialNumber = serialNumber;
  }
  return JSON.stringify(out, null, 2) + "\n";
}

/** A UUID (version 8, "custom", RFC 9562) from the SHA-256 of `text`. */
function contentUuid(text: string): string {
  const h = createHash("sha256").update(text).digest("hex").slice(0, 32).split("");
  h[12] = "8";
  h[16] = "89ab"[parseInt(h[16], 16) & 3];
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
