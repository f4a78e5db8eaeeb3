/**
 * Building a `.deb` from a spec with no dpkg installed (a macOS laptop can do it): the `ar` of
 * `debian-binary`, `control.tar.{gz,xz}` and `data.tar.{gz,xz}`, written by kiln's own ar and tar
 * writers. Reproducible: entries sorted, owned by root, every timestamp SOURCE_DATE_EPOCH, modes
 * normalized, compressors without timestamps, so building twice gives identical bytes.
 *
 * Sources are read once: the data member streams through the compressor into a temporary file
 * while md5sums are computed, then the package is assembled in a second temporary file that is
 * renamed into place, so a failed build leaves nothing behind.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { type Failure, failure } from "../engine/failure.ts";
import { hashFile } from "../engine/hash.ts";
import { AR_MAGIC, arMemberHeader, arPadding } from "./ar.ts";
import { compress, compressBytes, type CompressOptions, suffix } from "./compress.ts";
import { conffilesFile, installedSize, md5sumsFile, renderControl } from "./control.ts";
import { layout, readSource } from "./layout.ts";
import type { DebSpec } from "./spec.ts";
import { tarBytes, type TarEntry, TarSizeMismatch, tarStream } from "./tar.ts";

/** Options of {@link buildDeb}. */
export interface BuildDebOptions extends CompressOptions {
  /** The `.deb` to write; default {@link debFileName} in `outDir`. */
  readonly output?: string;
  /** Folder of the default output; default the spec's root folder. */
  readonly outDir?: string;
  /**
   * Seconds since 1970 for every timestamp; default `SOURCE_DATE_EPOCH` from `env`, else now
   * (then two builds differ: set it for identical bytes).
   */
  readonly sourceDateEpoch?: number;
  /** Where SOURCE_DATE_EPOCH is read from; default the process environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A built package. */
export interface BuiltDeb {
  /** Absolute path of the `.deb`. */
  readonly path: string;
  readonly size: number;
  /** SHA-256 of the file, hex. */
  readonly sha256: string;
  /** The timestamp every entry has. */
  readonly sourceDateEpoch: number;
}

/** The latest time a plain tar header holds (11 octal digits): the year 2242. */
const MAX_EPOCH = 0o77777777777;

/** Maintainer scripts, in the order they go into control.tar. */
const SCRIPTS = ["preinst", "postinst", "prerm", "postrm"] as const;

/** `name_version_arch.deb`, the version without its epoch, as Debian names package files. */
export function debFileName(spec: Pick<DebSpec, "name" | "version" | "architecture">): string {
  return `${spec.name}_${spec.version.replace(/^\d+:/, "")}_${spec.architecture}.deb`;
}

/** The timestamp to use, or why the one given is unusable. */
function epochOf(opts: BuildDebOptions): number | Failure {
  if (opts.sourceDateEpoch !== undefined) {
    if (
      Number.isSafeInteger(opts.sourceDateEpoch) && opts.sourceDateEpoch >= 0 &&
      opts.sourceDateEpoch <= MAX_EPOCH
    ) {
      return opts.sourceDateEpoch;
    }
    return failure(
      "deb-epoch-invalid",
      `sourceDateEpoch must be whole seconds since 1970 (at most ${MAX_EPOCH}), got ${opts.sourceDateEpoch}; fix it`,
    );
  }
  const raw = (opts.env ?? Deno.env.toObject()).SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return Math.floor(Date.now() / 1000);
  if (/^\d{1,11}$/.test(raw) && Number(raw) <= MAX_EPOCH) return Number(raw);
  return failure(
    "deb-epoch-invalid",
    `SOURCE_DATE_EPOCH must be whole seconds since 1970 (at most ${MAX_EPOCH}), got ${
      JSON.stringify(raw)
    }; set it to e.g. the last commit's time (git log -1 --format=%ct) and rerun`,
  );
}

/** The maintainer scripts as control.tar entries, or why one is missing or not a script. */
async function scriptEntries(spec: DebSpec): Promise<TarEntry[] | Failure> {
  const out: TarEntry[] = [];
  for (const name of SCRIPTS) {
    const src = spec.scripts[name];
    if (src === undefined) continue;
    const data = await readSource(spec, ["scripts", name], src);
    if ("reason" in data) return data;
    if (data[0] !== 0x23 || data[1] !== 0x21) {
      return failure(
        "deb-script-invalid",
        `${spec.where(["scripts", name])}: key "scripts.${name}" names ${
          JSON.stringify(src)
        }, which does not start with #!; add an interpreter line such as #!/bin/sh and rerun`,
      );
    }
    out.push({ type: "file", path: name, mode: 0o755, size: data.length, content: data });
  }
  return out;
}

/** `entries` with each file's content hashed (MD5) as it streams, into `sums`. */
function hashing(
  entries: readonly TarEntry[],
  skip: ReadonlySet<string>,
  sums: Map<string, string>,
): TarEntry[] {
  return entries.map((e) => {
    if (e.type !== "file" || skip.has(`/${e.path}`)) return e;
    const { content } = e;
    if (content instanceof Uint8Array) {
      sums.set(e.path, createHash("md5").update(content).digest("hex"));
      return e;
    }
    return {
      ...e,
      content: async function* () {
        const md5 = createHash("md5");
        for await (const chunk of content()) {
          md5.update(chunk);
          yield chunk;
        }
        sums.set(e.path, md5.digest("hex"));
      },
    };
  });
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/**
 * Builds the `.deb` of `spec`. Fails (nothing written) with `deb-source-missing`,
 * `deb-file-conflict`, `deb-spec-invalid`, `deb-script-invalid`, `deb-source-changed` (a file
 * changed size while being read), `deb-epoch-invalid` or `tool-missing` (xz unavailable).
 *
 * @example
 * ```ts
 * const spec = await loadDebSpec("packaging/kiln.deb.yaml");
 * if ("reason" in spec) throw new Error(spec.message);
 * const deb = await buildDeb(spec, { outDir: "dist", sourceDateEpoch: 1700000000 });
 * if ("reason" in deb) throw new Error(deb.message);
 * console.log(deb.path, deb.sha256);
 * ```
 */
export async function buildDeb(
  spec: DebSpec,
  opts: BuildDebOptions = {},
): Promise<BuiltDeb | Failure> {
  const epoch = epochOf(opts);
  if (typeof epoch !== "number") return epoch;
  const files = await layout(spec, epoch);
  if ("reason" in files) return files;
  const scripts = await scriptEntries(spec);
  if ("reason" in scripts) return scripts;

  const output = resolve(
    opts.output ?? join(opts.outDir ?? spec.root, debFileName(spec)),
  );
  await Deno.mkdir(dirname(output), { recursive: true });
  const tag = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const dataTmp = `${output}.data-${tag}.tmp`;
  const debTmp = `${output}.${tag}.tmp`;
  const ext = suffix(spec.compression);
  try {
    // data.tar, compressed into a temporary file, md5sums computed on the way.
    const sums = new Map<string, string>();
    const entries = hashing(files.entries, new Set(files.conffiles), sums);
    {
      using data = await Deno.open(dataTmp, { write: true, create: true, truncate: true });
      const bad = await compress(spec.compression, tarStream(entries, epoch), async (chunk) => {
        let at = 0;
        while (at < chunk.length) at += await data.write(chunk.subarray(at));
      }, opts);
      if (bad) return bad;
    }

    const text = (s: string) => new TextEncoder().encode(s);
    const control: TarEntry[] = [
      { type: "dir", path: "", mode: 0o755 },
      ...[
        ["control", renderControl(spec, installedSize(files.entries))],
        ["md5sums", md5sumsFile(sums)],
        ["conffiles", conffilesFile(files.conffiles)],
      ].filter(([, body]) => body !== "").map(([path, body]): TarEntry => {
        const content = text(body);
        return { type: "file", path, mode: 0o644, size: content.length, content };
      }),
      ...scripts,
    ];
    const controlTar = await compressBytes(spec.compression, await tarBytes(control, epoch), opts);
    if ("reason" in controlTar) return controlTar;

    const dataSize = (await Deno.stat(dataTmp)).size;
    {
      using deb = await Deno.open(debTmp, { write: true, create: true, truncate: true });
      const writeAll = async (bytes: Uint8Array) => {
        let at = 0;
        while (at < bytes.length) at += await deb.write(bytes.subarray(at));
      };
      const version = text("2.0\n");
      await writeAll(AR_MAGIC);
      await writeAll(arMemberHeader("debian-binary", version.length, epoch));
      await writeAll(version);
      await writeAll(arMemberHeader(`control.tar${ext}`, controlTar.length, epoch));
      await writeAll(controlTar);
      await writeAll(arPadding(controlTar.length));
      await writeAll(arMemberHeader(`data.tar${ext}`, dataSize, epoch));
      {
        using data = await Deno.open(dataTmp, { read: true });
        const buf = new Uint8Array(1024 * 1024);
        while (true) {
          const n = await data.read(buf);
          if (n === null) break;
          await writeAll(buf.subarray(0, n));
        }
      }
      await writeAll(arPadding(dataSize));
      await deb.sync();
    }
    await Deno.rename(debTmp, output);
    const { digest, size } = await hashFile(output);
    return { path: output, size, sha256: digest, sourceDateEpoch: epoch };
  } catch (e) {
    if (e instanceof TarSizeMismatch) {
      return failure(
        "deb-source-changed",
        `File ${
          JSON.stringify(`/${e.path}`)
        } of package ${spec.name} changed size while it was packed (${e.expected} then ${e.actual} bytes); rerun when the build that writes it is done`,
      );
    }
    throw e;
  } finally {
    await removeQuietly(dataTmp);
    await removeQuietly(debTmp);
  }
}
