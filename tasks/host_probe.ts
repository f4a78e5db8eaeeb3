/**
 * The accelerator probe as a task of its own (`host:accelerator`), so that it runs at the start of
 * a build, beside the ISO steps, rather than on the critical path inside the first packer step:
 * booting the probe VMs takes seconds (under TCG here, ~8 s), fetching and verifying an ISO takes
 * seconds too, and neither needs the other.
 *
 * The probe's answer lives in its own cache (until reboot, see `builders/accel_probe.ts`); the VM
 * steps ask it again and find it there. This task's output says only that the probe ran, never
 * what it found: an image's cache key must not depend on whether it was built with KVM or TCG.
 * Its key holds this boot's id, so a new boot probes again before the next VM step.
 *
 * @module
 */

import { fn, type Task } from "../engine/task.ts";
import { readBootId } from "../builders/accel_probe.ts";

/** The task id the VM steps depend on. */
export const HOST_PROBE = "host:accelerator";

/** The probe task. */
export function hostProbeTask(): Task {
  return {
    id: HOST_PROBE,
    description: "Find out whether this host runs VMs with KVM (or HVF), else TCG",
    params: { boot: readBootId(), v: 1 },
    outputs: ["build/host/probed"],
    pool: "vm",
    action: fn(import.meta.url, async (ctx) => {
      const { probeAccelerator } = await import("../builders/accel_probe.ts");
      const started = performance.now();
      const a = await probeAccelerator({ signal: ctx.signal });
      if ("reason" in a) return a;
      ctx.log(`${a.accelerator}: ${a.why}${a.slowdown ? ` (${a.slowdown})` : ""}`);
      // Read by `deno task bench` (time in QEMU is not kiln's overhead).
      ctx.log(`probe: ${a.fromCache ? 0 : Math.round(performance.now() - started)} ms in QEMU`);
      await Deno.mkdir(ctx.path("build/host"), { recursive: true });
      await Deno.writeTextFile(ctx.path("build/host/probed"), "probed\n");
    }),
  };
}
