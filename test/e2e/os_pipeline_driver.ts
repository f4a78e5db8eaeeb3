/**
 * Runs one build of the OS-image pipeline in a workspace, as its own process (so its
 * `KILN_CACHE_DIR` and ISO cache are the test's), and prints a JSON summary on stdout:
 * `{"outcomes":[{"id","status","reason","message"}]}`.
 *
 * Usage: `deno run -A os_pipeline_driver.ts <workspace> <catalog.yaml> <target>...`
 *
 * @module
 */

import { LocalProcessRunner } from "../../builders/local.ts";
import { runBuild } from "../../engine/build.ts";
import { buildGraph } from "../../engine/graph.ts";
import { defaultCacheDir, LocalStore } from "../../engine/store.ts";
import { loadCatalog } from "../../iso/catalog.ts";
import { osImageTasks } from "../../tasks/os_images.ts";

const [root, catalogPath, ...targets] = Deno.args;
const { tasks } = osImageTasks(loadCatalog(catalogPath));
const graph = buildGraph({ root, pools: { vm: 1 }, tasks });
const summary = await runBuild(graph, {
  targets,
  jobs: 2,
  keepGoing: false,
  store: new LocalStore(defaultCacheDir()),
  runner: new LocalProcessRunner(),
});
console.log(JSON.stringify({
  outcomes: summary.outcomes.map((o) => ({
    id: o.id,
    status: o.status,
    reason: o.failure?.reason ?? null,
    message: o.failure?.message ?? null,
  })),
}));
