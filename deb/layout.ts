/**
 * What goes into a package's data member: the spec's files (a folder source copied whole), its
 * links, the generated copyright and changelog, and every parent folder, as tar entries. Also
 * which files are conffiles: those the spec lists, which must be packaged regular files, and every
 * file under /etc, as debhelper marks them (lintian reports an unmarked one as an error).
 *
 * Modes are normalized so the package does not depend on the umask of the machine that built
 * it: files get 0755 when any execute bit is set and 0644 otherwise, unless the spec says a mode;
 * folders get 0755.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import { type Failure, failure } from "../engine/failure.ts";
import { formatPath } from "../engine/yaml_hints.ts";
import { changelogPath, changelogText, copyrightText } from "./docs.ts";
import { compressBytes } from "./compress.ts";
import type { DebSpec, SpecPath } from "./spec.ts";
import { type TarEntry, TarSizeMismatch } from "./tar.ts";

/** The data member's entries and the package's conffiles. */
export interface Layout {
  readonly entries: readonly TarEntry[];
  /** Absolute paths (`/etc/kiln/config.yaml`), sorted. */
  readonly conffiles: readonly string[];
}

const CHUNK = 1024 * 1024;

/**
 * Streams the file at `abs` (packed at `path`, `size` bytes when laid out) in 1 MiB chunks. A file
 * deleted since is reported as {@link TarSizeMismatch}, like one that changed size.
 */
export function fileChunks(
  abs: string,
  path: string,
  size: number,
): () => AsyncIterable<Uint8Array> {
  return async function* () {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(abs, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new TarSizeMismatch(path, size, 0);
      throw e;
    }
    using _ = f;
    const buf = new Uint8Array(CHUNK);
    while (true) {
      const n = await f.read(buf);
      if (n === null) return;
      yield buf.slice(0, n);
    }
  };
}

/** A spec-relative path, for messages: as written in the spec. */
function quoted(p: string): string {
  return JSON.stringify(p);
}

/** `deb-source-missing` for the path at `key` of the spec. */
export function sourceMissing(spec: DebSpec, key: SpecPath, src: string): Failure {
  return failure(
    "deb-source-missing",
    `${spec.where(key)}: key ${quoted(formatPath(key))} names ${
      quoted(src)
    }, which does not exist in ${quoted(spec.root)}; build it first or fix the path and rerun`,
  );
}

/** Reads a file the spec names, or the `deb-source-missing` failure for it. */
export async function readSource(
  spec: DebSpec,
  key: SpecPath,
  src: string,
): Promise<Uint8Array | Failure> {
  try {
    return await Deno.readFile(resolve(spec.root, src));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      return sourceMissing(spec, key, src);
    }
    throw e;
  }
}

function fileMode(given: number | undefined, stat: Deno.FileInfo): number {
  if (given !== undefined) return given;
  return ((stat.mode ?? 0o644) & 0o111) !== 0 ? 0o755 : 0o644;
}

/**
 * The entries of `spec`'s data member. Fails with `deb-source-missing` when a source does not
 * exist, `deb-file-conflict` when two items put something at one path, `deb-spec-invalid` when a
 * listed conffile is not a packaged file, and `deb-source-unsupported` for a device or socket.
 */
export async function layout(spec: DebSpec, epoch: number): Promise<Layout | Failure> {
  const entries = new Map<string, { entry: TarEntry; from: SpecPath }>();
  const add = (entry: TarEntry, from: SpecPath): Failure | null => {
    const had = entries.get(entry.path);
    if (had && !(had.entry.type === "dir" && entry.type === "dir")) {
      return failure(
        "deb-file-conflict",
        `${spec.where(from)}: ${quoted(`/${entry.path}`)} is also put in the package by ${
          formatKey(had.from)
        }; give each path one source and rerun`,
      );
    }
    entries.set(entry.path, { entry, from });
    return null;
  };

  for (const [i, f] of spec.files.entries()) {
    const key: SpecPath = ["files", i, "src"];
    const abs = resolve(spec.root, f.src);
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(abs);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return sourceMissing(spec, key, f.src);
      throw e;
    }
    const dest = f.dest.replace(/\/$/, "").slice(1);
    if (stat.isFile) {
      const path = f.dest.endsWith("/") ? join(dest, basename(abs)) : dest;
      const entry: TarEntry = {
        type: "file",
        path,
        mode: fileMode(f.mode, stat),
        size: stat.size,
        content: fileChunks(abs, path, stat.size),
      };
      const bad = add(entry, ["files", i]);
      if (bad) return bad;
    } else if (stat.isDirectory) {
      const bad = add({ type: "dir", path: dest, mode: 0o755 }, ["files", i]) ??
        await walk(abs, dest, f.mode, (e) => add(e, ["files", i]), spec, key);
      if (bad) return bad;
    } else {
      return unsupported(spec, key, f.src);
    }
  }

  for (const [i, l] of spec.links.entries()) {
    const bad = add({ type: "symlink", path: l.path.slice(1), target: l.target }, ["links", i]);
    if (bad) return bad;
  }

  const doc = `usr/share/doc/${spec.name}`;
  if (!entries.has(`${doc}/copyright`)) {
    const c = spec.copyright;
    let text: string | Failure;
    if (c.file !== undefined) {
      const data = await readSource(spec, ["copyright", "file"], c.file);
      if ("reason" in data) return data;
      text = new TextDecoder().decode(data);
    } else {
      let license: string | null = null;
      if (c.license_file !== undefined) {
        const data = await readSource(spec, ["copyright", "license_file"], c.license_file);
        if ("reason" in data) return data;
        license = new TextDecoder().decode(data);
      }
      text = copyrightText(spec, license, spec.where(["copyright"]), epoch);
    }
    if (typeof text !== "string") return text;
    const content = new TextEncoder().encode(text);
    add({ type: "file", path: `${doc}/copyright`, mode: 0o644, size: content.length, content }, [
      "copyright",
    ]);
  }
  const changelog = changelogPath(spec);
  if (!entries.has(changelog)) {
    let text: Uint8Array;
    if (spec.changelog !== undefined) {
      const data = await readSource(spec, ["changelog"], spec.changelog);
      if ("reason" in data) return data;
      text = data;
    } else {
      text = new TextEncoder().encode(changelogText(spec, epoch));
    }
    const content = await compressBytes("gz", text);
    if ("reason" in content) return content;
    add({ type: "file", path: changelog, mode: 0o644, size: content.length, content }, [
      "changelog",
    ]);
  }

  // Every parent folder, up to the root (`""`, written `./`).
  for (const path of [...entries.keys()]) {
    const parts = path.split("/");
    for (let n = parts.length - 1; n >= 0; n--) {
      const parent = parts.slice(0, n).join("/");
      const had = entries.get(parent);
      if (had && had.entry.type !== "dir") {
        return failure(
          "deb-file-conflict",
          `${spec.where(had.from)}: ${quoted(`/${parent}`)} is a file but ${
            quoted(`/${path}`)
          } needs it to be a folder; fix the destinations and rerun`,
        );
      }
      if (!had) {
        entries.set(parent, { entry: { type: "dir", path: parent, mode: 0o755 }, from: [] });
      }
    }
  }

  const conffiles = new Set<string>();
  for (const [i, c] of spec.conffiles.entries()) {
    const e = entries.get(c.slice(1))?.entry;
    if (e?.type !== "file") {
      return failure(
        "deb-spec-invalid",
        `${spec.where(["conffiles", i])}: key ${quoted(`conffiles[${i}]`)} names ${
          quoted(c)
        }, which is not a file the package installs; add it to files: or drop it and rerun`,
      );
    }
    conffiles.add(c);
  }
  for (const { entry } of entries.values()) {
    if (entry.type === "file" && entry.path.startsWith("etc/")) conffiles.add(`/${entry.path}`);
  }
  return { entries: [...entries.values()].map((e) => e.entry), conffiles: [...conffiles].sort() };
}

function formatKey(path: SpecPath): string {
  return `key ${quoted(formatPath(path))}`;
}

/** `dir/name`, or `name` in the root folder. */
function join(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

function unsupported(spec: DebSpec, key: SpecPath, src: string): Failure {
  return failure(
    "deb-source-unsupported",
    `${spec.where(key)}: ${quoted(src)} is neither a file, a folder nor a symlink; ` +
      "package only those and rerun",
  );
}

/** Adds everything under the folder `abs` at `dest`; symlinks stay symlinks. */
async function walk(
  abs: string,
  dest: string,
  mode: number | undefined,
  add: (e: TarEntry) => Failure | null,
  spec: DebSpec,
  key: SpecPath,
): Promise<Failure | null> {
  for await (const item of Deno.readDir(abs)) {
    const child = `${abs}/${item.name}`;
    const path = join(dest, item.name);
    const stat = await Deno.lstat(child);
    let bad: Failure | null;
    if (stat.isSymlink) {
      bad = add({ type: "symlink", path, target: await Deno.readLink(child) });
    } else if (stat.isDirectory) {
      bad = add({ type: "dir", path, mode: 0o755 }) ??
        await walk(child, path, mode, add, spec, key);
    } else if (stat.isFile) {
      bad = add({
        type: "file",
        path,
        mode: fileMode(mode, stat),
        size: stat.size,
        content: fileChunks(child, path, stat.size),
      });
    } else {
      bad = unsupported(spec, key, child);
    }
    if (bad) return bad;
  }
  return null;
}
