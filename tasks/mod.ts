/**
 * The pipelines kiln builds when no task file is given: `deno task build [targets]`.
 *
 * @module
 */

import type { TaskSet } from "../engine/task.ts";
import { resolve } from "../engine/path.ts";
import { osImageTasks } from "./os_images.ts";
import { releaseTasks } from "./release_packages.ts";

/** The repository's root: pipelines' paths are relative to it. */
export const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/**
 * Every registered pipeline's tasks. `release`: the build may run release tasks, so their
 * signing key must exist (a throwaway one is made if none is set).
 */
export async function pipelines(o: { release?: boolean } = {}): Promise<TaskSet> {
  const { version } = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`));
  const os = osImageTasks();
  const release = await releaseTasks(version, REPO_ROOT, undefined, o.release ?? true);
  return {
    root: REPO_ROOT,
    pools: { vm: 1 },
    tasks: [...release.tasks, ...os.tasks],
    configFiles: [...os.configFiles, ...release.configFiles],
  };
}
