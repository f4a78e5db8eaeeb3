/**
 * The ISO catalog (`iso/catalog.yaml`): for each distro, where its installer ISO comes from, how
 * its checksum file is laid out and signed, which signing keys are pinned, which packer template
 * builds it and what its booted image prints. The pipeline iterates the catalog and never names a
 * distro in code, so adding a distro is a catalog entry plus a packer template folder.
 *
 * A bad entry is one {@link ConfigError} line naming the file, the line and the key path, e.g.
 * `iso/catalog.yaml:14: distros.fedora.checksum.format: expected one of gnu, bsd, auto, got "md5";
 * write one of them`.
 *
 * This module loads, finds and resolves entries; what an entry may hold is `catalog_schema.ts`,
 * how a bad one is worded and located is `catalog_errors.ts`.
 *
 * @module
 */

import { LineCounter, type Node, parseDocument } from "yaml";
import { ConfigError } from "../engine/failure.ts";
import { formatPath } from "../engine/yaml_hints.ts";
import type { ChecksumAlgorithm, ChecksumFormat } from "./checksums.ts";
import { catalogSchema, fill, FINGERPRINT, lastSegment } from "./catalog_schema.ts";
import { locate, type Path, problem, SYNTAX_FIX } from "./catalog_errors.ts";

/** Where the catalog lives by default. */
export const DEFAULT_CATALOG = new URL("./catalog.yaml", import.meta.url).pathname;

/** How a distro signs its checksum file. */
export type CatalogSignature =
  | {
    readonly kind: "detached";
    readonly urls: readonly string[];
    readonly encoding: "armored" | "binary";
  }
  | { readonly kind: "clearsign" }
  | { readonly kind: "none"; readonly reason: string };

/** One distro of the catalog, validated. URLs may still hold `{name}` placeholders. */
export interface DistroEntry {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly arch: "x86_64" | "aarch64";
  readonly iso: { readonly file: string; readonly urls: readonly string[] };
  readonly checksum: {
    /** The checksum file's name (last segment of its URLs), for messages. */
    readonly file: string;
    readonly urls: readonly string[];
    readonly format: ChecksumFormat;
    readonly clearsigned: boolean;
    readonly algorithm: ChecksumAlgorithm;
  };
  readonly signature: CatalogSignature;
  readonly keys: {
    /** Alternatives: the first that can be fetched provides the key material. */
    readonly urls: readonly string[];
    readonly fingerprints: readonly string[];
    /** Name under which the pipeline passes extra pins at run time (see {@link resolveDistro}). */
    readonly fingerprintsFrom?: string;
  };
  /** Workspace-relative packer template folder, e.g. `packer/fedora`. */
  readonly packer: string;
  /** Regex (source) the validate step waits for on the serial console. */
  readonly bootMarker: string;
  readonly notes?: string;
}

/** A loaded catalog: its file and its distros in file order. */
export interface Catalog {
  readonly file: string;
  readonly distros: readonly DistroEntry[];
}

/**
 * Parses and validates catalog text. `file` names it in errors. Throws {@link ConfigError} for the
 * first problem in the file (YAML syntax, duplicate keys, schema, consistency between fields).
 */
export function parseCatalog(source: string, file: string): Catalog {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false });
  const fail = (offset: number, path: Path, message: string): never => {
    const where = path.length ? `${formatPath(path)}: ` : "";
    throw new ConfigError(`${file}:${lc.linePos(offset).line}: ${where}${message}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const what = e.code === "DUPLICATE_KEY"
      ? `duplicate key ${JSON.stringify(source.slice(e.pos[0]).match(/^[^:\n]*/)![0].trim())}`
      : e.message.split("\n")[0].replace(/\s+at line \d+.*$/, "").replace(/\.$/, "");
    const message = `${what.charAt(0).toLowerCase()}${what.slice(1)}`;
    fail(e.pos[0], [], `invalid YAML: ${message}; ${SYNTAX_FIX[e.code] ?? "fix the syntax here"}`);
  }
  const raw = doc.toJS({ maxAliasCount: 100 });
  const result = catalogSchema.safeParse(raw);
  if (!result.success) {
    const written = (p: Path) => {
      const node = doc.getIn(p, true) as Node | undefined;
      return node?.range ? source.slice(node.range[0], node.range[1]) : null;
    };
    const all = result.error.issues.map((i) => problem(i, raw, written));
    // A misspelt key also makes the right one missing: report the misspelling only.
    const typoIn = new Set(
      all.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))),
    );
    const found = all.filter((p) => !(p.missing && typoIn.has(JSON.stringify(p.path))))
      .map((p) => ({ ...p, offset: locate(doc.contents, p.path) }))
      .reduce((a, b) => (b.offset < a.offset ? b : a));
    fail(found.offset, found.path, found.message);
  }
  const distros = Object.entries(result.data!.distros).map(([id, e]): DistroEntry => ({
    id,
    name: e.name,
    version: e.version,
    arch: e.arch,
    iso: e.iso,
    checksum: { ...e.checksum, file: lastSegment(e.checksum.urls[0]) ?? "checksum file" },
    signature: e.signature,
    keys: {
      urls: e.keys.urls,
      fingerprints: e.keys.fingerprints,
      ...(e.keys.fingerprints_from ? { fingerprintsFrom: e.keys.fingerprints_from } : {}),
    },
    packer: e.packer,
    bootMarker: e.boot_marker,
    ...(e.notes ? { notes: e.notes } : {}),
  }));
  return { file, distros };
}

/** `path` as written when relative and inside the working directory, else as given. */
function displayPath(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

/**
 * Reads and validates the catalog (default `iso/catalog.yaml`). Throws {@link ConfigError} with
 * `file:line: key.path: what is wrong; how to fix it` for a bad entry, or when the file is missing.
 *
 * @example
 * ```ts
 * for (const distro of loadCatalog().distros) console.log(distro.id, distro.iso.file);
 * ```
 */
export function loadCatalog(path: string = DEFAULT_CATALOG): Catalog {
  const file = displayPath(path);
  let source: string;
  try {
    source = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`ISO catalog ${JSON.stringify(file)} does not exist; check the path`);
    }
    throw e;
  }
  return parseCatalog(source, file);
}

/** The entry `id`; throws {@link ConfigError} naming the known ids when there is none. */
export function findDistro(catalog: Catalog, id: string): DistroEntry {
  const entry = catalog.distros.find((d) => d.id === id);
  if (entry) return entry;
  throw new ConfigError(
    `Unknown distro ${JSON.stringify(id)}; use one of ${
      catalog.distros.map((d) => d.id).join(", ")
    } (see ${catalog.file})`,
  );
}

/** What the pipeline knows only at run time. */
export interface ResolveOptions {
  /** Values of the `{name}` placeholders in URLs, e.g. `{ port: "8431" }`. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Fingerprints by the name an entry's `keys.fingerprints_from` gives, e.g. `{ "demo-key": [fpr] }`. */
  readonly pins?: Readonly<Record<string, readonly string[]>>;
}

/** An entry ready to fetch and verify: URLs filled in, and every pin in `pinned`. */
export interface ResolvedDistro extends DistroEntry {
  /** The catalog's fingerprints plus the run-time ones (uppercase hex, no duplicates). */
  readonly pinned: readonly string[];
}

/**
 * Fills in `entry`'s URL placeholders and run-time pins. Only an entry that declares
 * `keys.fingerprints_from` takes run-time pins, and it must get at least one: a pin cannot be
 * added to a distro behind the catalog's back, nor silently left out.
 *
 * @example
 * ```ts
 * const demo = resolveDistro(findDistro(loadCatalog(), "demo"), {
 *   vars: { port: String(server.port) },
 *   pins: { "demo-key": [demoKeyFingerprint] },
 * });
 * ```
 */
export function resolveDistro(entry: DistroEntry, opts: ResolveOptions = {}): ResolvedDistro {
  const vars = opts.vars ?? {};
  const sub = (list: readonly string[], field: string) =>
    list.map((u, i) =>
      fill(u, (name) => {
        const value = vars[name];
        if (value === undefined || value === "" || /[/?#\s]/.test(value)) {
          throw new ConfigError(
            `Distro ${JSON.stringify(entry.id)} has {${name}} in ${field}[${i}] but ${
              value === undefined
                ? "no value was given"
                : `the value ${JSON.stringify(value)} is not usable`
            }; pass vars.${name} when resolving it`,
          );
        }
        return value;
      })
    );
  const pinned = [...entry.keys.fingerprints];
  const from = entry.keys.fingerprintsFrom;
  if (from !== undefined) {
    const extra = opts.pins?.[from] ?? [];
    if (extra.length === 0) {
      throw new ConfigError(
        `Distro ${JSON.stringify(entry.id)} pins its signing key at run time ` +
          `(keys.fingerprints_from: ${from}) but no fingerprint was given; pass pins["${from}"]`,
      );
    }
    for (const f of extra) {
      const fpr = f.replace(/\s+/g, "").toUpperCase();
      if (!FINGERPRINT.test(fpr)) {
        throw new ConfigError(
          `Run-time pin ${
            JSON.stringify(f)
          } for ${from} is not a full key fingerprint; pass all 40 hex digits`,
        );
      }
      pinned.push(fpr);
    }
  }
  const iso = { ...entry.iso, urls: sub(entry.iso.urls, "iso.urls") };
  const checksum = { ...entry.checksum, urls: sub(entry.checksum.urls, "checksum.urls") };
  const signature: CatalogSignature = entry.signature.kind === "detached"
    ? { ...entry.signature, urls: sub(entry.signature.urls, "signature.urls") }
    : entry.signature;
  const keys = { ...entry.keys, urls: sub(entry.keys.urls, "keys.urls") };
  return {
    ...entry,
    iso,
    checksum,
    signature,
    keys,
    pinned: [...new Set(pinned)],
  };
}

/**
 * The entries whose packer template folder is missing under `root` (the workspace). A build of
 * such a distro cannot start; callers that build everything report these up front.
 */
export function missingPackerTemplates(catalog: Catalog, root: string): DistroEntry[] {
  return catalog.distros.filter((d) => {
    try {
      return !Deno.statSync(`${root}/${d.packer}`).isDirectory;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return true;
      throw e;
    }
  });
}
