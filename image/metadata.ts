/**
 * What ships beside the images: `metadata.json` (where an image came from and how to check it)
 * and `SHA256SUMS` (what `sha256sum -c` checks).
 *
 * Both are written atomically (temporary name, then rename) and deterministically: the same
 * build facts give the same bytes (fixed key order, images sorted by name), so a rebuild that
 * changes nothing leaves them, and every task after them, untouched.
 *
 * @module
 */

import { basename } from "node:path";
import { replaceFileAtomic } from "../engine/durable.ts";

/** Where the build ran. */
export type BuilderKind = "local" | "ci" | "cloud";

/** One image file in the release folder. */
export interface ImageRecord {
  /** File name (no folder), e.g. `ubuntu-22.04.qcow2`. */
  readonly file: string;
  /** `qcow2`, `vhdx`, `vmdk`, `ova`, ... */
  readonly format: string;
  /** Bytes. */
  readonly size: number;
  readonly sha256: string;
  readonly sha512: string;
}

/** The facts of one distro's build. */
export interface BuildMetadata {
  /** kiln's distro id, e.g. `ubuntu`. */
  readonly distro: string;
  /** Release, e.g. `22.04`. */
  readonly version: string;
  readonly iso: {
    /** SHA-256 of the installer ISO (hex). */
    readonly sha256: string;
    /**
     * OpenPGP fingerprint of the key whose signature vouched for the ISO's checksum, or null
     * when nothing was signed (the offline demo distro builds its own ISO).
     */
    readonly signerFingerprint: string | null;
  };
  /** `packer version`, e.g. `1.6.6`. */
  readonly packerVersion: string;
  /** `qemu-img --version`, e.g. `7.2.22`. */
  readonly qemuVersion: string;
  readonly images: readonly ImageRecord[];
  readonly builder: BuilderKind;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** The `schema` field of metadata.json: raise it when a field changes meaning. */
export const METADATA_SCHEMA = 1;

const HEX = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ };

/** An instant as ISO 8601 UTC to the second, e.g. `2026-11-21T08:00:00Z`. */
export function isoTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error("invalid date");
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Normalizes an OpenPGP fingerprint to upper-case hex without spaces (40 digits for a v4 key,
 * 64 for v6). Throws on anything else: a wrong fingerprint in release metadata is a bug.
 */
export function normalizeFingerprint(fpr: string): string {
  const f = fpr.replace(/\s+/g, "").toUpperCase();
  if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(f)) {
    throw new Error(`not an OpenPGP fingerprint: ${JSON.stringify(fpr)}`);
  }
  return f;
}

/**
 * The builder kind from the environment: `KILN_BUILDER` when set (`local`, `ci` or `cloud`),
 * else `ci` when `CI` is set (GitHub, GitLab and most CI systems set it), else `local`.
 */
export function detectBuilder(env: Readonly<Record<string, string | undefined>>): BuilderKind {
  const named = env.KILN_BUILDER;
  if (named !== undefined && named !== "") {
    if (named === "local" || named === "ci" || named === "cloud") return named;
    throw new Error(`KILN_BUILDER=${JSON.stringify(named)}: use local, ci or cloud`);
  }
  return env.CI && env.CI !== "false" ? "ci" : "local";
}

/**
 * metadata.json's text: keys in a fixed order, images sorted by file name, two-space indent,
 * final newline. Throws on malformed digests or times (bugs upstream).
 *
 * @example
 * ```ts
 * const text = metadataJson({ distro: "ubuntu", version: "22.04", ... });
 * ```
 */
export function metadataJson(m: BuildMetadata): string {
  if (!HEX.sha256.test(m.iso.sha256)) throw new Error(`bad ISO sha256 ${m.iso.sha256}`);
  if (!["local", "ci", "cloud"].includes(m.builder)) throw new Error(`bad builder ${m.builder}`);
  if (m.finishedAt < m.startedAt) throw new Error("build finished before it started");
  const images = [...m.images].sort((a, b) => compareNames(a.file, b.file)).map((i) => {
    if (!HEX.sha256.test(i.sha256) || !HEX.sha512.test(i.sha512)) {
      throw new Error(`bad digest for ${i.file}`);
    }
    if (i.file.includes("/")) throw new Error(`image file ${i.file} has a folder`);
    return {
      file: i.file,
      format: i.format,
      size: i.size,
      sha256: i.sha256,
      sha512: i.sha512,
    };
  });
  const doc = {
    schema: METADATA_SCHEMA,
    distro: m.distro,
    version: m.version,
    iso: {
      sha256: m.iso.sha256,
      signerFingerprint: m.iso.signerFingerprint === null
        ? null
        : normalizeFingerprint(m.iso.signerFingerprint),
    },
    packerVersion: m.packerVersion,
    qemuVersion: m.qemuVersion,
    images,
    builder: m.builder,
    startedAt: isoTime(m.startedAt),
    finishedAt: isoTime(m.finishedAt),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/** Byte-wise order of names, as `LC_ALL=C sort` (locale-free, so the same everywhere). */
export function compareNames(a: string, b: string): number {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

const FORMATS: Record<string, string> = {
  qcow2: "qcow2",
  img: "raw",
  raw: "raw",
  vhdx: "vhdx",
  vmdk: "vmdk",
  ova: "ova",
};

/**
 * Reads `path` once and returns its {@link ImageRecord}: size, SHA-256 and SHA-512. The format
 * is `format`, else guessed from the extension.
 */
export async function describeImage(path: string, format?: string): Promise<ImageRecord> {
  const { createHash } = await import("node:crypto");
  const h256 = createHash("sha256");
  const h512 = createHash("sha512");
  let size = 0;
  using f = await Deno.open(path);
  const buf = new Uint8Array(4 << 20);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    const chunk = buf.subarray(0, n);
    h256.update(chunk);
    h512.update(chunk);
    size += n;
  }
  const file = basename(path);
  const ext = file.includes(".") ? file.slice(file.lastIndexOf(".") + 1) : "";
  return {
    file,
    format: format ?? FORMATS[ext] ?? ext,
    size,
    sha256: h256.digest("hex"),
    sha512: h512.digest("hex"),
  };
}

/** One line's input of SHA256SUMS. */
export interface SumEntry {
  readonly name: string;
  readonly sha256: string;
}

/**
 * SHA256SUMS text in GNU coreutils format (`<hex>  <name>`, two spaces: text mode, as
 * `sha256sum` writes it), sorted byte-wise by name, one line per file.
 */
export function sha256SumsText(entries: readonly SumEntry[]): string {
  const seen = new Set<string>();
  return [...entries].sort((a, b) => compareNames(a.name, b.name)).map((e) => {
    if (!HEX.sha256.test(e.sha256)) throw new Error(`bad sha256 for ${e.name}`);
    if (/[\n\\]/.test(e.name) || e.name.includes("/")) {
      throw new Error(`file name ${JSON.stringify(e.name)} cannot go in SHA256SUMS`);
    }
    if (seen.has(e.name)) throw new Error(`${e.name} twice in SHA256SUMS`);
    seen.add(e.name);
    return `${e.sha256}  ${e.name}\n`;
  }).join("");
}

/** Writes `<dir>/metadata.json` atomically; returns its path. */
export function writeMetadata(dir: string, m: BuildMetadata): string {
  const path = `${dir}/metadata.json`;
  replaceFileAtomic(path, metadataJson(m));
  return path;
}

/**
 * Writes `<dir>/SHA256SUMS` for `names` (files in `dir`) atomically; returns its path. Known
 * digests (from {@link describeImage}) are reused, the other files are hashed.
 *
 * @example
 * ```ts
 * const img = await describeImage("dist/ubuntu/ubuntu-22.04.qcow2");
 * writeMetadata("dist/ubuntu", { ...facts, images: [img] });
 * await writeSha256Sums("dist/ubuntu", [img.file, "metadata.json"], [img]);
 * ```
 */
export async function writeSha256Sums(
  dir: string,
  names: readonly string[],
  known: readonly ImageRecord[] = [],
): Promise<string> {
  const entries: SumEntry[] = [];
  for (const name of names) {
    const k = known.find((r) => r.file === name);
    entries.push({ name, sha256: k?.sha256 ?? (await describeImage(`${dir}/${name}`)).sha256 });
  }
  const path = `${dir}/SHA256SUMS`;
  replaceFileAtomic(path, sha256SumsText(entries));
  return path;
}
