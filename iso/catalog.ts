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
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { ConfigError } from "../engine/failure.ts";
import { describe, formatPath, unknownKeyMessage, valueAt } from "../engine/yaml_hints.ts";
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_FORMATS,
  type ChecksumAlgorithm,
  type ChecksumFormat,
} from "./checksums.ts";

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

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const PLACEHOLDER = /\{([a-z_]+)\}/g;
const FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;

function fill(url: string, vars: (name: string) => string): string {
  return url.replace(PLACEHOLDER, (_, name: string) => vars(name));
}

/** The last path segment a URL names (placeholders filled with a dummy), or null. */
function lastSegment(url: string): string | null {
  try {
    return decodeURIComponent(new URL(fill(url, () => "1")).pathname.split("/").pop() ?? "") ||
      null;
  } catch {
    return null;
  }
}

const url = z.string().superRefine((u, ctx) => {
  const filled = fill(u, () => "1");
  let parsed: URL | undefined;
  try {
    parsed = /[{}\s]/.test(filled) ? undefined : new URL(filled);
  } catch { /* reported below */ }
  if (!parsed) {
    ctx.addIssue({
      code: "custom",
      message: `expected a URL, got ${
        JSON.stringify(u)
      }; write https://host/path (placeholders as {name})`,
    });
  } else if (
    parsed.protocol !== "https:" && !(parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname))
  ) {
    ctx.addIssue({
      code: "custom",
      message: `${
        JSON.stringify(u)
      } is not https; use https (plain http is only for a loopback mirror)`,
    });
  }
});
const urls = z.array(url);
const fingerprint = z.string().regex(FINGERPRINT, {
  message: "expected a full key fingerprint (40 hex digits in capitals, no spaces)" +
    "|copy it from the distro's security page and quote it",
});
const text = z.string().trim().min(1, { message: "expected some text, got an empty string" });

const signatureSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("detached"),
    urls: urls.min(1, { message: "expected at least one signature URL" }),
    encoding: z.enum(["armored", "binary"]),
  }).strict(),
  z.object({ kind: z.literal("clearsign") }).strict(),
  z.object({ kind: z.literal("none"), reason: text }).strict(),
]);

const entrySchema = z.object({
  name: text,
  version: text,
  arch: z.enum(["x86_64", "aarch64"]),
  iso: z.object({
    file: z.string().regex(/^[A-Za-z0-9._+-]+$/, {
      message: "expected a plain file name (letters, digits, . _ + -)|write the name only",
    }),
    urls: urls.min(1, { message: "expected at least one ISO URL" }),
  }).strict(),
  checksum: z.object({
    urls: urls.min(1, { message: "expected at least one checksum file URL" }),
    format: z.enum(CHECKSUM_FORMATS as [ChecksumFormat, ...ChecksumFormat[]]),
    clearsigned: z.boolean(),
    algorithm: z.enum(CHECKSUM_ALGORITHMS as [ChecksumAlgorithm, ...ChecksumAlgorithm[]])
      .default("sha256"),
  }).strict(),
  signature: signatureSchema,
  keys: z.object({
    urls: urls,
    fingerprints: z.array(fingerprint),
    fingerprints_from: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
      message: "expected a name in lowercase letters, digits and -|e.g. demo-key",
    }).optional(),
  }).strict(),
  packer: z.string().regex(/^packer\/[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: "expected the template folder as packer/<name>|e.g. packer/fedora",
  }),
  boot_marker: z.string().min(1).superRefine((re, ctx) => {
    try {
      new RegExp(re);
    } catch (e) {
      ctx.addIssue({
        code: "custom",
        message: `is not a valid regex (${(e as Error).message}); fix it or quote it with ''`,
      });
    }
  }),
  notes: z.string().optional(),
}).strict().superRefine((e, ctx) => {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  for (const [i, u] of e.iso.urls.entries()) {
    const seg = lastSegment(u);
    if (seg !== null && seg !== e.iso.file) {
      issue(
        ["iso", "urls", i],
        `names "${seg}", not the ISO file "${e.iso.file}"; fix one of them`,
      );
    }
  }
  const sameFile = (list: readonly string[], path: string[]) => {
    const first = lastSegment(list[0]);
    for (const [i, u] of list.entries()) {
      if (lastSegment(u) !== first) {
        issue(
          [...path, i],
          `names "${lastSegment(u)}" but ${
            path.join(".")
          }[0] names "${first}"; mirrors must serve the same file`,
        );
      }
    }
  };
  sameFile(e.checksum.urls, ["checksum", "urls"]);
  if (e.signature.kind === "detached") sameFile(e.signature.urls, ["signature", "urls"]);
  const clear = e.signature.kind === "clearsign";
  if (e.checksum.clearsigned !== clear) {
    issue(
      ["checksum", "clearsigned"],
      `is ${e.checksum.clearsigned} but signature.kind is ${e.signature.kind}; write clearsigned: ${clear}`,
    );
  }
  const pinned = e.keys.fingerprints.length > 0 || e.keys.fingerprints_from !== undefined;
  if (e.signature.kind === "none") {
    if (pinned || e.keys.urls.length > 0) {
      issue(["keys"], "pins keys but signature.kind is none; empty keys, or declare the signature");
    }
    const plain = [...e.iso.urls, ...e.checksum.urls].find((u) => !u.startsWith("https://"));
    if (plain) {
      issue(
        ["signature", "kind"],
        `is none, so every URL must be https, but ${JSON.stringify(plain)} is not`,
      );
    }
  } else {
    if (!pinned) {
      issue(["keys", "fingerprints"], "pins no key; add the signing key's full fingerprint");
    }
    if (e.keys.urls.length === 0) {
      issue(["keys", "urls"], "expected at least one URL to fetch the signing key from");
    }
  }
});

const catalogSchema = z.object({
  distros: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
      message: "expected a distro id in lowercase letters, digits and -|e.g. centos-stream",
    }),
    entrySchema,
  ),
}).strict();

type Path = (string | number)[];

/** The keys allowed in the map at `path` (for "unknown key" hints). */
function knownKeys(path: Path, raw: unknown): string[] {
  if (path.length === 0) return Object.keys(catalogSchema.shape);
  if (path.length === 2) return Object.keys(entrySchema.innerType().shape);
  const field = path[2];
  if (field === "signature") {
    const kind = valueAt(raw, [...path, "kind"]);
    const option = signatureSchema.optionsMap.get(kind as "none");
    return option ? Object.keys(option.shape) : ["kind"];
  }
  const shape = entrySchema.innerType().shape[field as "iso"];
  return shape && "shape" in shape ? Object.keys(shape.shape) : [];
}

/** Source offset of the deepest node along `path` that exists (its key, or the list item). */
function locate(contents: Node | null, path: Path): number {
  let node: unknown = contents;
  let offset = contents?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      node = node.items[seg];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

/** What to suggest for a missing key. */
const EXAMPLES: Record<string, string> = {
  format: "gnu, bsd or auto",
  encoding: "armored or binary",
  kind: "detached, clearsign or none",
  clearsigned: "true or false",
  arch: "x86_64",
  urls: "[https://...]",
  fingerprints: '["<40 hex digits>"]',
  packer: "packer/<id>",
};

/** Hints for the YAML syntax errors people make. */
const SYNTAX_FIX: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  DUPLICATE_KEY: "remove or rename one of them",
  BAD_INDENT: "check the indentation",
  MULTIPLE_DOCS: "keep one document and remove the --- line",
  BAD_DQ_ESCAPE: "use single quotes for regexes",
};

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : describe(v);
}

/** The problem of one zod issue: where it is and what to say. */
function problem(
  issue: z.ZodIssue,
  raw: unknown,
  source: (p: Path) => string | null,
): { path: Path; message: string; typo?: boolean; missing?: boolean } {
  const path = issue.path;
  // zod reports a bad distro id at the id's path: what was written is the key itself.
  const got = issue.code === "invalid_string" && path.length === 2 ? path[1] : valueAt(raw, path);
  const key = String(path[path.length - 1]);
  switch (issue.code) {
    case "unrecognized_keys": {
      const at = [...path, issue.keys[0]];
      return {
        path: at,
        message: unknownKeyMessage(issue.keys[0], knownKeys(path, raw)),
        typo: true,
      };
    }
    case "invalid_type": {
      if (got === undefined) {
        const values = EXAMPLES[key] ? ` ${EXAMPLES[key]}` : "";
        return {
          path: path.slice(0, -1),
          message: `missing ${key}; add ${key}:${values}`,
          missing: true,
        };
      }
      const what: Record<string, string> = {
        string: "a string",
        boolean: "true or false",
        array: "a list",
        object: "a map",
      };
      const written = source(path) ?? String(got);
      const fix = path.length === 0
        ? "start the file with distros:"
        : issue.expected === "string" && typeof got !== "object"
        ? `quote it: "${written}"`
        : issue.expected === "array" && typeof got === "string"
        ? `write it as a list: [${written}]`
        : `write ${what[issue.expected] ?? issue.expected} here`;
      return {
        path,
        message: `expected ${what[issue.expected] ?? issue.expected}, got ${
          typeof got === "number" ? `the number ${written}` : describe(got)
        }; ${fix}`,
      };
    }
    case "invalid_enum_value":
      return {
        path,
        message: `expected one of ${issue.options.join(", ")}, got ${show(got)}; write one of them`,
      };
    case "invalid_union_discriminator":
      return {
        path,
        message: `expected one of ${issue.options.join(", ")}, got ${show(got)}; write one of them`,
      };
    case "invalid_string": {
      const [expected, fix] = issue.message.split("|");
      return { path, message: `${expected}, got ${show(got)}${fix ? `; ${fix}` : ""}` };
    }
    default:
      return { path, message: issue.message };
  }
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
