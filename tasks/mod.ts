/**
 * The pipelines kiln builds when no task file is given: `deno task build [targets]`.
 *
 * @module
 */

import type { TaskSet } from "../engine/task.ts";
import { resolve } from "../engine/path.ts";
import { osImageTasks } from "./os_images.ts";
import { sourceReleaseTasks } from "./source_release.ts";

/** The repository's root: pipelines' paths are relative to it. */
export const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** Every registered pipeline's tasks. */
export function pipelines(): TaskSet {
  const { version } = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`));
  const os = osImageTasks();
  return {
    root: REPO_ROOT,
    pools: { vm: 1 },
    tasks: [...sourceReleaseTasks(version), ...os.tasks],
    configFiles: os.configFiles,
  };
}
