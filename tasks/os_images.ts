/**
 * The OS-image pipeline: for every distro of the ISO catalog (`iso/catalog.yaml`), fetch ->
 * verify -> packer -> validate -> compress, plus the demo distro's offline "upstream" (see
 * `demo_source.ts`). Adding a distro is a catalog entry plus a packer template folder; nothing
 * here names a real distro.
 *
 * Targets: `image:<id>:compress` builds a distro's release folder, `dist/images/<id>/`
 * (`deno task build:<id>`).
 *
 * @module
 */

import type { Task } from "../engine/task.ts";
import { type Catalog, DEFAULT_CATALOG, loadCatalog } from "../iso/catalog.ts";
import { demoKernelParams, demoSourceTasks } from "./demo_source.ts";
import { compressTask, packerTask, validateTask, type VmSize } from "./image_steps.ts";
import { hostProbeTask } from "./host_probe.ts";
import { fetchTask, verifyTask } from "./iso_steps.ts";

/** The VM a real distro is installed in, and the demo's much smaller one. */
const REAL_VM: VmSize = {
  cpus: 2,
  memory: 2048,
  diskSize: "20G",
  bootWait: "5s",
  shutdownTimeout: "120m",
  validateTimeoutMs: 600_000,
};
const DEMO_VM: VmSize = {
  cpus: 1,
  memory: 512,
  diskSize: "64M",
  bootWait: "1s",
  shutdownTimeout: "5m",
  validateTimeoutMs: 120_000,
};

/** The pipeline's tasks, and the files its definition read (for the build stamp). */
export function osImageTasks(
  catalog: Catalog = loadCatalog(),
): { tasks: Task[]; configFiles: string[] } {
  const kernel = demoKernelParams();
  const tasks: Task[] = [hostProbeTask(), ...demoSourceTasks(kernel.params)];
  for (const d of catalog.distros) {
    const size = d.id === "demo" ? DEMO_VM : REAL_VM;
    tasks.push(
      fetchTask(d),
      verifyTask(d),
      packerTask(d, size),
      validateTask(d, size),
      compressTask(d),
    );
  }
  return { tasks, configFiles: [DEFAULT_CATALOG, ...kernel.files] };
}
