/**
 * Which QEMU accelerator really works on this machine. `/dev/kvm` opening is not evidence: on
 * nested or paravirtual hosts (this build machine) a guest started with `-accel kvm` hangs right
 * after the firmware, and packer then waits out its whole shutdown timeout. So the probe boots
 * something: the demo kernel and a module-less demo initramfs in `kiln.mode=probe`, which prints
 * `KILN-PROBE-OK` and powers off. KVM is usable only if that line appears within a few seconds;
 * otherwise the probe picks TCG and boots the same VM under TCG to say how slow that is.
 *
 * On macOS, HVF can only run a guest of the host's own architecture (x86_64 on Intel Macs);
 * anything else is emulated by TCG. That path reads `kern.hv_support` and boots nothing (there
 * is no host Linux kernel to boot); it is not exercised by the tests, which run on Linux.
 *
 * The answer is cached until the next reboot, keyed by the kernel's boot id, in
 * `<cache dir>/accel-probe.json`.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { defaultCacheDir } from "../engine/store.ts";
import { which } from "../engine/tools.ts";
import { type Accelerator, bootUntilMarker, qemuArgv } from "../image/validate.ts";
import { directBootKernel } from "../iso/demo/demo_iso.ts";
import { buildDemoInitramfs, findHostKernel } from "../iso/demo/initramfs.ts";

/** Whether KVM can run guests here. */
export type KvmState = "usable" | "unusable" | "absent";

/** The probe's answer. */
export interface AccelProbe {
  /** What to pass to QEMU and packer (`accelerator`). */
  readonly accelerator: Accelerator;
  readonly kvm: KvmState;
  /**
   * Why, in one sentence. (Not named `reason`: kiln tells a {@link Failure} from a result by
   * `"reason" in x`.)
   */
  readonly why: string;
  /** When TCG was picked: how much slower, with what was measured and what was assumed. */
  readonly slowdown?: string;
  /** Milliseconds from QEMU's start to the probe marker, per accelerator that booted. */
  readonly bootMs?: { readonly kvm?: number; readonly tcg?: number };
  /** True when the answer came from the cache (no VM was booted). */
  readonly fromCache: boolean;
}

/** Options of {@link probeAccelerator}. */
export interface ProbeOptions {
  /** Default {@link defaultCacheDir}. */
  readonly cacheDir?: string;
  /** How long a KVM guest gets to print its marker (default 5 s; a working KVM needs < 1 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Identifies this boot of the host (default: the kernel's boot id); null disables the cache. */
  readonly bootId?: () => string | null;
  /** Default: this host (`Deno.build`). */
  readonly host?: { readonly os: string; readonly arch: string };
  /** The guest architecture that will run; default `x86_64`. */
  readonly guestArch?: string;
  /** Default `/dev/kvm`. */
  readonly kvmDevice?: string;
}

/**
 * What a KVM boot of the probe VM typically takes on a machine where KVM works (direct kernel
 * boot to a busybox shell). An assumption, not a measurement: it cannot be measured where KVM
 * is unusable, and {@link AccelProbe.slowdown} says so.
 */
export const TYPICAL_KVM_PROBE_MS = 1000;

/** TCG gets this long to boot the probe VM before the probe gives up. */
const TCG_TIMEOUT_MS = 60_000;

const CACHE_VERSION = 1;

/** This boot's id: `/proc/sys/kernel/random/boot_id` (Linux), `kern.boottime` (macOS), else null. */
export function readBootId(): string | null {
  try {
    if (Deno.build.os === "linux") {
      return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
    }
    if (Deno.build.os === "darwin") {
      const r = new Deno.Command("sysctl", { args: ["-n", "kern.boottime"] }).outputSync();
      return r.success ? new TextDecoder().decode(r.stdout).trim() : null;
    }
  } catch { /* unknown: no cache */ }
  return null;
}

/**
 * Picks the accelerator for VM steps by booting a probe VM (see the module documentation).
 * Fails with `tool-missing` when QEMU or the demo kernel is absent, `accelerator-probe-failed`
 * when not even TCG boots, `interrupted` on abort.
 *
 * @example
 * ```ts
 * const a = await probeAccelerator();
 * if (!("reason" in a)) console.log(a.accelerator, a.why, a.slowdown ?? "");
 * ```
 */
export async function probeAccelerator(opts: ProbeOptions = {}): Promise<AccelProbe | Failure> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const cacheFile = `${cacheDir}/accel-probe.json`;
  const bootId = (opts.bootId ?? readBootId)();
  const host = opts.host ?? Deno.build;
  const guestArch = opts.guestArch ?? "x86_64";
  const key = { v: CACHE_VERSION, bootId, host: `${host.os}/${host.arch}`, guestArch };
  if (bootId !== null) {
    try {
      const c = JSON.parse(Deno.readTextFileSync(cacheFile));
      if (Object.entries(key).every(([k, v]) => c[k] === v)) {
        return { ...c.result, fromCache: true };
      }
    } catch { /* absent or unreadable: probe */ }
  }
  const result = host.os === "darwin"
    ? probeDarwin(host.arch, guestArch)
    : await probeLinux(host.arch, guestArch, cacheDir, opts);
  if ("reason" in result) return result;
  if (bootId !== null) {
    await Deno.mkdir(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(tmp, JSON.stringify({ ...key, result }, null, 2) + "\n");
    await Deno.rename(tmp, cacheFile);
  }
  return { ...result, fromCache: false };
}

type Probed = Omit<AccelProbe, "fromCache">;

function probeDarwin(hostArch: string, guestArch: string): Probed {
  if (hostArch !== guestArch) {
    return {
      accelerator: "tcg",
      kvm: "absent",
      why: `HVF cannot run a ${guestArch} guest on this ${hostArch} Mac, so QEMU emulates it`,
      slowdown: "Emulating another architecture is typically 10x or more slower than HVF",
    };
  }
  const r = new Deno.Command("sysctl", { args: ["-n", "kern.hv_support"] }).outputSync();
  const hv = r.success && new TextDecoder().decode(r.stdout).trim() === "1";
  return hv
    ? { accelerator: "hvf", kvm: "absent", why: "macOS Hypervisor.framework is available" }
    : {
      accelerator: "tcg",
      kvm: "absent",
      why: "macOS reports no Hypervisor.framework support (kern.hv_support is not 1)",
    };
}

async function probeLinux(
  hostArch: string,
  guestArch: string,
  cacheDir: string,
  opts: ProbeOptions,
): Promise<Probed | Failure> {
  const qemu = which(`qemu-system-${guestArch}`);
  if (!qemu) {
    return failure(
      "tool-missing",
      `Tool "qemu-system-${guestArch}" is not installed: install the Debian package "qemu-system-x86"`,
    );
  }
  const device = opts.kvmDevice ?? "/dev/kvm";
  let kvm: { state: KvmState; why: string } | null = null;
  if (hostArch !== guestArch) {
    kvm = { state: "unusable", why: `KVM cannot run a ${guestArch} guest on a ${hostArch} host` };
  } else {
    try {
      Deno.openSync(device, { read: true, write: true }).close();
    } catch (e) {
      kvm = e instanceof Deno.errors.NotFound
        ? { state: "absent", why: `"${device}" does not exist (no KVM module, or no VT-x/AMD-V)` }
        : {
          state: "unusable",
          why: `"${device}" cannot be opened (${(e as Error).name}): add the user to group "kvm"`,
        };
    }
  }
  const kernel = findHostKernel();
  if ("reason" in kernel) return kernel;
  const work = `${cacheDir}/accel-probe.work-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(work, { recursive: true });
  try {
    const initrd = await buildDemoInitramfs(`${work}/probe.gz`, {
      kernel,
      modules: [],
      signal: opts.signal,
    });
    if ("reason" in initrd) return initrd;
    const vmlinux = await directBootKernel(kernel, `${work}/vmlinux`, opts);
    if (typeof vmlinux !== "string") return vmlinux;
    const boot = (accelerator: Accelerator, timeoutMs: number) => {
      const serialLog = `${work}/${accelerator}.serial.log`;
      const argv = qemuArgv({
        qemu,
        accelerator,
        serialLog,
        memoryMiB: 256,
        boot: {
          kernel: vmlinux,
          initrd: initrd.path,
          append: "console=ttyS0 quiet kiln.mode=probe",
        },
      });
      const { signal } = opts;
      return bootUntilMarker({
        argv,
        serialLog,
        marker: /KILN-PROBE-OK/,
        timeoutMs,
        signal,
      });
    };
    const kvmMs = opts.timeoutMs ?? 5000;
    if (!kvm) {
      const r = await boot("kvm", kvmMs);
      if (r.outcome === "interrupted") {
        return failure("interrupted", "Accelerator probe was interrupted");
      }
      if (r.outcome === "marker") {
        return {
          accelerator: "kvm",
          kvm: "usable",
          why: `A probe VM booted with KVM in ${seconds(r.ms)}`,
          bootMs: { kvm: r.ms },
        };
      }
      kvm = {
        state: "unusable",
        why: r.outcome === "timeout"
          ? `"${device}" opens, but a probe VM started with -accel kvm printed nothing in ${
            seconds(kvmMs)
          } (guests hang: nested or paravirtual KVM)`
          : `a probe VM started with -accel kvm stopped without booting${
            r.qemuSaid ? ` ("${r.qemuSaid}")` : ""
          }`,
      };
    }
    const t = await boot("tcg", TCG_TIMEOUT_MS);
    if (t.outcome === "interrupted") {
      return failure("interrupted", "Accelerator probe was interrupted");
    }
    if (t.outcome !== "marker") {
      const said = t.qemuSaid ?? t.lastLines.at(-1) ?? "no output";
      return failure(
        "accelerator-probe-failed",
        `A probe VM did not boot even with TCG (${t.outcome}: "${said}"): check the QEMU ` +
          `installation and "${cacheDir}/accel-probe.tcg.serial.log"`,
      );
    }
    const ratio = t.ms / TYPICAL_KVM_PROBE_MS;
    return {
      accelerator: "tcg",
      kvm: kvm.state,
      why: `KVM is ${kvm.state}: ${kvm.why}; using TCG (software emulation)`,
      slowdown: `Measured: TCG booted the probe VM in ${seconds(t.ms)}. Assumed, not measured ` +
        `here: KVM boots it in about ${seconds(TYPICAL_KVM_PROBE_MS)}, so roughly ` +
        `${Math.max(1, Math.round(ratio))}x slower; CPU-bound steps (installers) often lose more`,
      bootMs: { tcg: t.ms },
    };
  } finally {
    // Keep the serial logs, which show why an accelerator failed; drop the 60 MB kernel.
    for (const e of await Array.fromAsync(Deno.readDir(work)).catch(() => [])) {
      if (e.name.endsWith(".log")) {
        await Deno.rename(`${work}/${e.name}`, `${cacheDir}/accel-probe.${e.name}`).catch(() => {});
      }
    }
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
