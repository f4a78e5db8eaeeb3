/**
 * Output manifests: what a task produced (files with digests, sizes and modes; folders;
 * symlinks), how to collect one after an action, and how to tell if the workspace still holds it.
 *
 * @module
 */

import type { DigestCache } from "./digest_cache.ts";
import { type Failure, failure } from "./failure.ts";
import type { DigestList } from "./fingerprint.ts";
import { join } from "./path.ts";
import { statFile } from "./stat.ts";
import type { SeenDirs } from "./glob.ts";
import { removeIfExists } from "./fs_util.ts";

/** One output file. */
export interface OutputFile {
  readonly path: string;
  readonly digest: string;
  readonly size: number;
  readonly mode: number;
}

/** Everything a task produced, with workspace-relative paths, sorted. */
export interface OutputManifest {
  readonly files: readonly OutputFile[];
  readonly dirs: readonly string[];
  readonly symlinks: readonly { readonly path: string; readonly target: string }[];
}

/** The `[path, digest]` list that dependents put in their fingerprints. */
export function outputDigests(m: OutputManifest): DigestList {
  return [
    ...m.files.map((f) => [f.path, f.digest] as const),
    ...m.symlinks.map((s) => [s.path, `symlink:${s.target}`] as const),
  ];
}

interface Found {
  files: { rel: string; mode: number }[];
  dirs: string[];
  symlinks: { path: string; target: string }[];
}

function scan(root: string, rel: string, found: Found, seen?: SeenDirs): boolean {
  const st = statFile(join(root, rel));
  if (!st) return false;
  if (st.kind === "file") found.files.push({ rel, mode: st.mode });
  else if (st.kind === "symlink") {
    found.symlinks.push({ path: rel, target: Deno.readLinkSync(join(root, rel)) });
  } else if (st.kind === "dir") {
    found.dirs.push(rel);
    seen?.set(join(root, rel), st.sig);
    for (const e of Deno.readDirSync(join(root, rel))) {
      scan(root, `${rel}/${e.name}`, found, seen);
    }
  }
  return true;
}

/**
 * Hashes the declared outputs of a task after its action ran. Folders are walked. Returns
 * `missing-output` when a declared output does not exist.
 */
export async function collectOutputs(
  root: string,
  taskId: string,
  declared: readonly string[],
  digests: DigestCache,
  seen?: SeenDirs,
): Promise<OutputManifest | Failure> {
  const found: Found = { files: [], dirs: [], symlinks: [] };
  for (const o of declared) {
    if (!scan(root, o, found, seen)) {
      return failure(
        "missing-output",
        `Task "${taskId}" did not produce declared output "${o}"; make its action write it or remove it from outputs`,
      );
    }
  }
  const files: OutputFile[] = [];
  for (const { rel, mode } of found.files) {
    const abs = join(root, rel);
    const st = statFile(abs);
    const digest = st && await digests.digest(rel, abs, st);
    if (!st || digest === null) {
      return failure("missing-output", `Output "${rel}" of task "${taskId}" vanished while hashed`);
    }
    files.push({ path: rel, digest, size: st.size, mode });
  }
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1);
  return {
    files: files.sort(byPath),
    dirs: found.dirs.sort(),
    symlinks: found.symlinks.sort(byPath),
  };
}

/**
 * Whether the workspace still holds exactly `m` (same file digests, no files added to an output
 * folder): `"intact"`; `"absent"` when `m` is plain files and none of them exists (so there is
 * nothing to clear before a restore); else `"changed"`. Unchanged files are checked by stat
 * alone through the digest cache.
 */
export async function outputsState(
  root: string,
  declared: readonly string[],
  m: OutputManifest,
  digests: DigestCache,
  seen?: SeenDirs,
): Promise<"intact" | "absent" | "changed"> {
  let missing = 0;
  for (const f of m.files) {
    const d = await digests.digest(f.path, join(root, f.path));
    if (d === null) missing++;
    else if (d !== f.digest) return "changed";
  }
  if (missing > 0) {
    const plain = missing === m.files.length && m.dirs.length + m.symlinks.length === 0 &&
      declared.length === m.files.length;
    return plain ? "absent" : "changed";
  }
  for (const s of m.symlinks) {
    try {
      if (Deno.readLinkSync(join(root, s.path)) !== s.target) return "changed";
    } catch {
      return "changed";
    }
  }
  if (m.dirs.length === 0) return "intact";
  const found: Found = { files: [], dirs: [], symlinks: [] };
  for (const o of declared) scan(root, o, found, seen);
  const same = found.files.length === m.files.length &&
    found.symlinks.length === m.symlinks.length && found.dirs.length === m.dirs.length;
  return same ? "intact" : "changed";
}

/** Removes the declared outputs so an action starts clean and a stale file cannot pass. */
export function removeOutputs(root: string, declared: readonly string[], digests: DigestCache) {
  for (const o of declared) {
    removeIfExists(join(root, o));
    digests.forget(o);
  }
}
