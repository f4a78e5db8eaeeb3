/**
 * Release archives: a set of source files under one top folder, as a reproducible `.tar.gz`
 * (Homebrew, Linux) or `.zip` (Scoop, Windows). Entries are sorted, owned by root, stamped with
 * SOURCE_DATE_EPOCH and keep only the executable bit of their mode, so the same tree gives the
 * same bytes on any machine, and so the same sha256 in the formula and the manifest.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { join } from "../engine/path.ts";
import { compressBytes } from "../deb/compress.ts";
import { tarBytes, type TarEntry } from "../deb/tar.ts";
import { writeFilesAtomic } from "./write.ts";
import { zipBytes, type ZipEntry } from "./zip.ts";

/** A source path (file or folder) was not found. */
export const ARCHIVE_SOURCE_MISSING = "archive-source-missing";

/** A file to put in an archive, relative to its top folder. */
export interface ArchiveFile {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
}

/**
 * Every file under `paths` (files or folders, relative to `root`), sorted, with modes reduced to
 * 0644 or 0755. Folders are walked recursively; symlinks are skipped (a release holds files).
 */
export async function collectFiles(
  root: string,
  paths: readonly string[],
): Promise<ArchiveFile[] | Failure> {
  const out: ArchiveFile[] = [];
  const walk = async (rel: string): Promise<Failure | null> => {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(join(root, rel));
    } catch {
      return failure(
        ARCHIVE_SOURCE_MISSING,
        `Release source ${JSON.stringify(rel)} is missing under ${JSON.stringify(root)}; ` +
          `restore it or remove it from the release's sources`,
      );
    }
    if (st.isDirectory) {
      const names = [...Deno.readDirSync(join(root, rel))].map((e) => e.name).sort();
      for (const n of names) {
        const bad = await walk(`${rel}/${n}`);
        if (bad) return bad;
      }
    } else if (st.isFile) {
      const exec = ((st.mode ?? 0) & 0o111) !== 0;
      out.push({
        path: rel,
        mode: exec ? 0o755 : 0o644,
        data: await Deno.readFile(join(root, rel)),
      });
    }
    return null;
  };
  for (const p of paths) {
    const bad = await walk(p.replace(/\/+$/, ""));
    if (bad) return bad;
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The folders that hold `files`, each once, parents first. */
function folders(files: readonly ArchiveFile[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs].sort();
}

/**
 * Writes `files` under the top folder `top` to `dest` as `format`, atomically.
 *
 * @example
 * ```ts
 * const files = await collectFiles(repo, ["build.ts", "engine"]);
 * if (!("reason" in files)) {
 *   await writeArchive(files, { top: "kiln-1.0.0-linux-amd64", format: "tar.gz", mtime, dest });
 * }
 * ```
 */
export async function writeArchive(
  files: readonly ArchiveFile[],
  o: { top: string; format: "tar.gz" | "zip"; mtime: number; dest: string },
): Promise<{ size: number } | Failure> {
  const placed = files.map((f) => ({ ...f, path: `${o.top}/${f.path}` }));
  let bytes: Uint8Array | Failure;
  if (o.format === "zip") {
    const entries: ZipEntry[] = [
      ...folders(placed).map((path) => ({ type: "dir" as const, path })),
      ...placed.map((f) => ({ type: "file" as const, path: f.path, mode: f.mode, data: f.data })),
    ];
    bytes = zipBytes(entries, o.mtime);
  } else {
    const entries: TarEntry[] = [
      ...folders(placed).map((path) => ({ type: "dir" as const, path, mode: 0o755 })),
      ...placed.map((f) => ({
        type: "file" as const,
        path: f.path,
        mode: f.mode,
        size: f.data.length,
        content: f.data,
      })),
    ];
    bytes = await compressBytes("gz", await tarBytes(entries, o.mtime));
  }
  if ("reason" in bytes) return bytes;
  const dir = o.dest.slice(0, o.dest.lastIndexOf("/"));
  await writeFilesAtomic(dir, { [o.dest.slice(dir.length + 1)]: bytes });
  return { size: bytes.length };
}
