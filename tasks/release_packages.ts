/**
 * kiln's own release (`deno task package`): per-platform archives, a .deb, an APT repository
 * holding it, a Homebrew formula committed to a tap, a Scoop manifest, and the release folder's
 * checksums, signatures, manifest and SBOM, all in `dist/`, signed with the release key (a
 * throwaway one unless `KILN_SIGNING_KEY_FILE` or `KILN_SIGNING_KEY` is set).
 *
 * Every step is a task: a rerun with nothing changed does nothing, and changing one file of
 * kiln rebuilds the archives and the .deb, then only the indexes and signatures whose inputs
 * changed.
 *
 * @module
 */

import type { Task } from "../engine/task.ts";
import { aptTask } from "./release_apt.ts";
import { ARCHIVE_PLATFORMS, archiveTask } from "./release_archives.ts";
import { brewTasks } from "./release_brew.ts";
import { DEB_TASK, debPath, debRevision, debTask } from "./release_deb.ts";
import { releaseFilesTask } from "./release_files.ts";
import { keyTask } from "./release_signing.ts";

/** The targets `deno task package` builds. */
export const PACKAGE_TARGETS = ["release:files", "release:apt", "release:tap", "release:scoop"];

/** The release tasks of kiln `version` in workspace `root`, and the files the key depends on. */
export async function releaseTasks(
  version: string,
  root: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
  makeKey = true,
): Promise<{ tasks: Task[]; configFiles: string[] }> {
  const key = await keyTask(root, env, makeKey);
  const revision = debRevision(root);
  return {
    tasks: [
      ...ARCHIVE_PLATFORMS.map((p) => archiveTask(version, p)),
      debTask(version, revision),
      key.task,
      aptTask(version, revision),
      ...brewTasks(version),
      releaseFilesTask(version, { task: DEB_TASK, file: debPath(version, revision) }),
    ],
    configFiles: key.configFiles,
  };
}
