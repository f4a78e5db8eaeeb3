/**
 * What a Debian package spec may hold: the zod schema shared by the YAML loader and by pipelines
 * that build a spec in code, so both are checked by the same rules (Debian policy's syntax for
 * package names, versions and relations, and the description rules lintian reports as errors).
 *
 * Custom messages read `must be X|how to fix it`; `spec.ts` puts the key, the line and the value
 * in between.
 *
 * @module
 */

import { z } from "zod";

/** Debian package names: lowercase letters, digits, `+ - .`, at least two, starting alphanumeric. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * `[epoch:]upstream[-revision]`: the upstream part starts with a digit and may hold `- :` only
 * when a revision or an epoch makes them unambiguous.
 */
export function isDebianVersion(v: string): boolean {
  const m = /^(?:(\d+):)?(.+)$/.exec(v);
  if (!m) return false;
  const rest = m[2];
  const dash = rest.lastIndexOf("-");
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : null;
  const upstreamChars = m[1] !== undefined ? /^[0-9][A-Za-z0-9.+~:-]*$/ : /^[0-9][A-Za-z0-9.+~-]*$/;
  if (!upstreamChars.test(upstream)) return false;
  return revision === null || /^[A-Za-z0-9.+~]+$/.test(revision);
}

/** Architectures Debian ships, plus `all` for architecture-independent packages. */
export const ARCHITECTURES = [
  "all",
  "amd64",
  "arm64",
  "armel",
  "armhf",
  "i386",
  "loong64",
  "mips64el",
  "ppc64el",
  "riscv64",
  "s390x",
] as const;

/** One alternative of a relation: `name[:arch] [(op version)] [[archs]]`. */
const RELATION_ITEM =
  /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:\s*\(\s*(?:<<|<=|=|>=|>>)\s*[A-Za-z0-9.+~:-]+\s*\))?(?:\s*\[[a-z0-9! -]+\])?$/;

/** Whether `s` is one relation: alternatives separated by `|`. */
export function isRelation(s: string): boolean {
  return s.split("|").every((alt) => RELATION_ITEM.test(alt.trim()));
}

/** The relation fields of a spec, in the order `dpkg-gencontrol` writes them. */
export const RELATION_KEYS = [
  "pre_depends",
  "depends",
  "recommends",
  "suggests",
  "enhances",
  "breaks",
  "conflicts",
  "replaces",
  "provides",
] as const;

/** A relation key of a spec, e.g. `pre_depends`. */
export type RelationKey = typeof RELATION_KEYS[number];

const text = z.string().trim().min(1, { message: "must not be empty|write some text" });

const oneLine = text.refine((s) => !/[\r\n]/.test(s), {
  message: "must be one line|join the lines",
});

const relations = z.array(
  z.string().trim().refine(isRelation, {
    message: 'must be a package relation such as "libc6 (>= 2.36)" or "a | b"' +
      "|write name, optional (op version) with op one of << <= = >= >>",
  }),
).default([]);

/** An absolute path inside the package, without `.` or `..` parts or a trailing slash. */
const packagePath = z.string().refine(
  (p) =>
    p.startsWith("/") && p.length > 1 && !p.endsWith("/") &&
    p.split("/").slice(1).every((s) => s !== "" && s !== "." && s !== "..") &&
    !/[\r\n\0\\]/.test(p),
  { message: 'must be an absolute path such as "/usr/bin/tool"|start it with / and drop . and ..' },
);

/** Where a file entry goes: like {@link packagePath}, but a trailing slash means "into this folder". */
const destination = z.string().refine(
  (p) =>
    p.startsWith("/") && p.length > 1 &&
    p.replace(/\/$/, "").split("/").slice(1).every((s) => s !== "" && s !== "." && s !== "..") &&
    !/[\r\n\0\\]/.test(p),
  {
    message: 'must be an absolute path such as "/usr/bin/tool" or a folder ending in /' +
      "|start it with / and drop . and ..",
  },
);

/**
 * A file mode: an octal string such as `"0755"` (YAML numbers are turned into their written text
 * by the loader, so `mode: 0755` works) or, from code, the number itself (`0o755`).
 */
const mode = z.union([
  z.string().regex(/^(?:0o|0)?[0-7]{3}$/, {
    message: 'must be an octal mode such as "0755" or "0644"|write three octal digits',
  }).transform((s) => parseInt(s.replace(/^0o/, ""), 8)),
  z.number().int().min(0).max(0o777, {
    message: "must be a mode from 0o000 to 0o777|drop setuid, setgid and sticky bits",
  }),
]);

const source = text.refine((s) => !/[\r\n\0]/.test(s), { message: "must be one line|fix it" });

/** `files:` items: a file or folder of the build, and where it goes in the package. */
export const fileSchema = z.object({
  src: source,
  dest: destination,
  mode: mode.optional(),
}).strict();

/** `links:` items: a symbolic link the package installs. */
export const linkSchema = z.object({
  path: packagePath,
  target: source,
}).strict();

/** `scripts:`: maintainer scripts, as files of the build. */
export const scriptsSchema = z.object({
  preinst: source.optional(),
  postinst: source.optional(),
  prerm: source.optional(),
  postrm: source.optional(),
}).strict();

/** `copyright:`: a file shipped as is, or what to write a machine-readable copyright file from. */
export const copyrightSchema = z.object({
  file: source.optional(),
  holder: oneLine.optional(),
  years: oneLine.optional(),
  license: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+-]*$/, {
    message: 'must be a license short name such as "MIT" or "GPL-3+"|use DEP-5 short names',
  }).optional(),
  license_file: source.optional(),
}).strict().superRefine((c, ctx) => {
  if (c.file !== undefined) {
    const extra = (["holder", "years", "license", "license_file"] as const)
      .find((k) => c[k] !== undefined);
    if (extra) {
      ctx.addIssue({
        code: "custom",
        path: [extra],
        message: "cannot go with file:|either ship a copyright file or describe it, not both",
      });
    }
    return;
  }
  for (const k of ["holder", "license"] as const) {
    if (c[k] === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [k],
        message: "is needed unless file: names a copyright file|add it",
      });
    }
  }
});

/** A whole package spec, as written in YAML (snake_case keys, Debian's words). */
export const debSpecSchema = z.object({
  name: z.string().regex(PACKAGE_NAME, {
    message: 'must be a Debian package name such as "kiln"' +
      "|use lowercase letters, digits and + - ., at least two, starting with a letter or digit",
  }),
  version: z.string().refine(isDebianVersion, {
    message: 'must be a Debian version such as "1.2.3-1"|fix it',
  }),
  architecture: z.enum(ARCHITECTURES),
  maintainer: z.string().regex(/^[^<>,\r\n]*[^<>,\s]\s+<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>$/, {
    message: 'must be "Full Name <email@example.org>"|write a name and an email address',
  }),
  description: text,
  homepage: z.string().url({ message: 'must be a URL such as "https://example.org"|fix it' })
    .optional(),
  section: z.string().regex(/^(?:[a-z-]+\/)?[a-z0-9-]+$/, {
    message: 'must be a Debian section such as "utils" or "devel"|fix it',
  }).default("misc"),
  priority: z.enum(["required", "important", "standard", "optional", "extra"]).default("optional"),
  multi_arch: z.enum(["same", "foreign", "allowed", "no"]).optional(),
  pre_depends: relations,
  depends: relations,
  recommends: relations,
  suggests: relations,
  enhances: relations,
  breaks: relations,
  conflicts: relations,
  replaces: relations,
  provides: relations,
  files: z.array(fileSchema).default([]),
  links: z.array(linkSchema).default([]),
  conffiles: z.array(packagePath.refine((p) => p.startsWith("/etc/"), {
    message: "must be a file under /etc|move the file under /etc or drop it from conffiles",
  })).default([]),
  scripts: scriptsSchema.default({}),
  copyright: copyrightSchema,
  changelog: source.optional(),
  compression: z.enum(["gz", "xz"]).default("xz"),
}).strict().superRefine((s, ctx) => {
  // The description rules lintian reports as errors, checked here where the line is known.
  const [synopsis, ...rest] = s.description.split(/\r?\n/);
  const long = rest.join("\n").trim();
  const problem = synopsis.trim() === ""
    ? "must start with a one-line synopsis|write the synopsis on the first line"
    : synopsis.length > 80
    ? `must start with a synopsis of at most 80 characters (it has ${synopsis.length})|shorten it`
    : synopsis.toLowerCase().startsWith(s.name.toLowerCase() + " ") ||
        synopsis.toLowerCase() === s.name.toLowerCase()
    ? "must not start with the package name|describe what the package does instead"
    : long === ""
    ? "must have an extended description after the synopsis line|add a paragraph below it"
    : /\t/.test(s.description)
    ? "must not hold tabs|use spaces"
    : null;
  if (problem) ctx.addIssue({ code: "custom", path: ["description"], message: problem });
});

/** A spec as a pipeline may write it in code: the YAML keys, defaults optional. */
export type DebSpecInput = z.input<typeof debSpecSchema>;
/** A validated spec as written (before paths are resolved). */
export type DebSpecFields = z.output<typeof debSpecSchema>;
/** One validated `files:` item. */
export type DebFileFields = z.output<typeof fileSchema>;

/** The keys allowed in the map at `path` of a spec, for "did you mean" hints. */
export function knownKeys(path: readonly (string | number)[]): string[] {
  if (path.length === 0) return Object.keys(debSpecSchema.innerType().shape);
  const top = path[0];
  if (top === "files") return Object.keys(fileSchema.shape);
  if (top === "links") return Object.keys(linkSchema.shape);
  if (top === "scripts") return Object.keys(scriptsSchema.shape);
  if (top === "copyright") return Object.keys(copyrightSchema.innerType().shape);
  return [];
}
