/**
 * What a formula spec may hold: the zod schema shared by the YAML loader and by pipelines that
 * build a spec in code, so both are checked by the same rules (Homebrew's `brew audit` rules for
 * `desc`, formula names, SPDX licenses, URL templates with known placeholders only).
 *
 * Custom messages read `must be X|how to fix it`; `spec.ts` puts the key, the line and the value
 * in between.
 *
 * @module
 */

import { z } from "zod";

/** Operating systems release archives are built for. */
export const OSES = ["macos", "linux", "windows"] as const;
/** CPU architectures release archives are built for. */
export const ARCHES = ["arm64", "x86_64"] as const;
/** An operating system of a release archive. */
export type Os = typeof OSES[number];
/** A CPU architecture of a release archive. */
export type Arch = typeof ARCHES[number];

/** The placeholders a URL template may hold. */
export const PLACEHOLDERS = ["version", "os", "arch", "ext"] as const;

/** Homebrew formula names: lowercase, may hold `@` (versioned formulae), `+`, `.`, `_`, `-`. */
export const FORMULA_NAME = /^[a-z][a-z0-9+_.@-]*$/;
/** A dependency: a formula name, possibly tap-qualified (`user/tap/name`). */
const DEPENDENCY = /^(?:[a-z0-9_-]+\/[a-z0-9_-]+\/)?[a-z0-9][a-z0-9+_.@-]*$/;
const LICENSE_ID = "[A-Za-z0-9][A-Za-z0-9.+-]*";
const LICENSE = new RegExp(`^${LICENSE_ID}(?:( OR | AND )${LICENSE_ID}(?:\\1${LICENSE_ID})*)?$`);
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]+(?<![./])$/;

const text = z.string().trim().min(1, { message: "must not be empty|write some text" });

const oneLine = text.refine((s) => !/[\r\n]/.test(s), {
  message: "must be one line|join the lines",
});

const https = z.string().refine((u) => isHttps(u), {
  message: "must be an https URL|write https://host/path",
});

function isHttps(u: string): boolean {
  try {
    return new URL(u).protocol === "https:" && !/\s/.test(u);
  } catch {
    return false;
  }
}

/** `template` with `{version}`, `{os}`, `{arch}` and `{ext}` replaced by `vars`. */
export function fillTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (all, name: string) => vars[name] ?? all);
}

const urlTemplate = z.string().superRefine((u, ctx) => {
  const unknown = [...u.matchAll(/\{([^}]*)\}/g)].map((m) => m[1])
    .filter((n) => !(PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `may only hold the placeholders {${PLACEHOLDERS.join("}, {")}}|remove {${
        unknown[0]
      }}`,
    });
  } else if (!u.includes("{version}")) {
    ctx.addIssue({
      code: "custom",
      message: "must hold {version}|write e.g. .../v{version}/kiln-{version}-{os}-{arch}.{ext}",
    });
  } else if (!isHttps(fillTemplate(u, { version: "1", os: "o", arch: "a", ext: "e" }))) {
    ctx.addIssue({
      code: "custom",
      message: "must be an https URL template|write https://host/path/{version}/...",
    });
  }
});

/** Ruby lines: one string (split at newlines) or a list; blank lines at the ends are dropped. */
const rubyLines = z.union([z.string(), z.array(z.string())]).transform((v) => {
  const lines = (typeof v === "string" ? [v] : v).flatMap((s) => s.split(/\r?\n/))
    .map((l) => l.trimEnd());
  while (lines.length > 0 && lines[0] === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}).refine((l) => l.length > 0, { message: "must hold at least one line of Ruby|write one" });

const dependency = z.union([
  z.string().regex(DEPENDENCY, {
    message: 'must be a formula name such as "openssl@3"|write the name Homebrew knows',
  }),
  z.object({
    name: z.string().regex(DEPENDENCY, {
      message: 'must be a formula name such as "pkg-config"|write the name Homebrew knows',
    }),
    type: z.enum(["build", "test", "optional", "recommended"]).optional(),
  }).strict(),
]).transform((d) => (typeof d === "string" ? { name: d } : d));

const identity = z.object({
  name: oneLine.refine((s) => !/[<>]/.test(s), { message: "must not hold < or >|remove them" }),
  email: z.string().regex(/^[^\s<>@]+@[^\s<>@]+$/, {
    message: "must be an email address|write name@example.org",
  }),
}).strict();

/** A git repository to publish into: a Homebrew tap or a Scoop bucket. */
export const repoSchema = z.object({
  path: text,
  remote: text.refine((s) => !s.startsWith("-"), { message: "must not start with -|fix it" })
    .optional(),
  branch: z.string().regex(BRANCH, { message: 'must be a branch name such as "main"|fix it' })
    .default("main"),
  author: identity.optional(),
}).strict();

const checkver = z.union([
  z.string().refine((s): s is "github" => s === "github", {
    message: "must be github or a map with url and regex|write checkver: github",
  }),
  z.object({ url: https, regex: text }).strict(),
]);

/** `scoop:` of a spec: what only the Scoop manifest needs. */
export const scoopSchema = z.object({
  bin: z.union([
    oneLine,
    z.array(oneLine).min(1, { message: "must name at least one program|write bin: kiln.exe" }),
  ]).optional(),
  extract_dir: oneLine.optional(),
  checkver: checkver.optional(),
  checksums: oneLine.nullable().default("SHA256SUMS"),
  bucket: repoSchema.optional(),
}).strict();

const names = <K extends string>(keys: readonly K[], defaults: Record<K, string>) =>
  z.object(
    Object.fromEntries(
      keys.map((k) => [
        k,
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
          message: 'must be a file-name part such as "amd64"|use letters, digits, . _ -',
        }).default(defaults[k]),
      ]),
    ) as Record<K, z.ZodDefault<z.ZodString>>,
  ).strict().default(defaults as never);

/** A whole formula spec, as written in YAML (snake_case keys, the words of Homebrew and Scoop). */
export const formulaSpecSchema = z.object({
  name: z.string().regex(FORMULA_NAME, {
    message: 'must be a Homebrew formula name such as "kiln" or "kiln@1.2"' +
      "|use lowercase letters, digits and + _ . @ -, starting with a letter",
  }),
  desc: oneLine,
  homepage: https,
  license: z.string().regex(LICENSE, {
    message: 'must be an SPDX license id such as "MIT" or "MIT OR Apache-2.0"' +
      "|see https://spdx.org/licenses/ (no parentheses, do not mix OR and AND)",
  }),
  url: urlTemplate,
  os_names: names(OSES, { macos: "darwin", linux: "linux", windows: "windows" }),
  arch_names: names(ARCHES, { arm64: "arm64", x86_64: "amd64" }),
  archive_ext: names(OSES, { macos: "tar.gz", linux: "tar.gz", windows: "zip" }),
  install: rubyLines.optional(),
  test: rubyLines.optional(),
  depends_on: z.array(dependency).default([]),
  tap: repoSchema.optional(),
  scoop: scoopSchema.default({}),
}).strict().superRefine((s, ctx) => {
  // The rules `brew audit` applies to desc.
  const desc = s.desc;
  const problem = desc.length > 80
    ? `must be at most 80 characters (it has ${desc.length})|shorten it`
    : /^an?\s/i.test(desc)
    ? 'must not start with an article|drop the leading "A" or "An"'
    : desc.toLowerCase().startsWith(s.name.toLowerCase())
    ? "must not start with the formula name|describe what it does instead"
    : desc.endsWith(".")
    ? "must not end with a period|remove it"
    : null;
  if (problem) ctx.addIssue({ code: "custom", path: ["desc"], message: problem });
}).transform((s) => ({
  ...s,
  install: s.install ?? [`bin.install ${JSON.stringify(s.name)}`],
  test: s.test ?? [`system "#{bin}/${s.name}", "--version"`],
}));

/** A spec as a pipeline may write it in code: the YAML keys, defaults optional. */
export type FormulaSpecInput = z.input<typeof formulaSpecSchema>;
/** A validated spec, defaults filled in. */
export type FormulaSpec = z.output<typeof formulaSpecSchema>;
/** A validated git repository to publish into. */
export type RepoSpec = z.output<typeof repoSchema>;
/** A git identity for commits. */
export type GitIdentity = z.output<typeof identity>;

/** The keys allowed in the map at `path` of a spec, for "did you mean" hints. */
export function knownKeys(path: readonly (string | number)[]): string[] {
  const last = path[path.length - 1];
  if (path.length === 0) return Object.keys(formulaSpecSchema.innerType().innerType().shape);
  if (last === "tap" || last === "bucket") return Object.keys(repoSchema.shape);
  if (last === "author") return Object.keys(identity.shape);
  if (last === "scoop") return Object.keys(scoopSchema.shape);
  if (last === "checkver") return ["url", "regex"];
  if (last === "os_names" || last === "archive_ext") return [...OSES];
  if (last === "arch_names") return [...ARCHES];
  if (path[0] === "depends_on") return ["name", "type"];
  return [];
}
