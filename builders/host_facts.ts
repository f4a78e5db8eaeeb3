/**
 * What this host offers: OS, CPU, memory, free disk, tool versions and whether it runs VMs with
 * hardware virtualization. `kiln doctor` prints it, and placement (`placement.ts`) reads it to
 * decide where each task runs. The facts are plain data, so the decisions made from them are
 * tested with made-up facts; gathering them is here, with each source behind an option.
 *
 * Virtualization is the accelerator probe's answer (`accel_probe.ts`, which boots a tiny guest,
 * cached until reboot) for the host's own architecture. The other architecture is never booted:
 * QEMU can only emulate it (TCG), provided `qemu-system-<arch>` is installed.
 *
 * @module
 */

import { pathExists } from "../engine/fs_util.ts";
import { type Failure } from "../engine/failure.ts";
import { which } from "../engine/tools.ts";
import type { Accelerator } from "../image/boot.ts";
import { toolPath } from "../iso/demo/host_tools.ts";
import {
  type DiskFact,
  type MemoryFact,
  type OsFact,
  readDisk,
  readMemory,
  readOs,
} from "./host_system.ts";
import {
  type AccelProbe,
  type KvmState,
  probeAccelerator,
  type ProbeOptions,
  TYPICAL_KVM_PROBE_MS,
} from "./accel_probe.ts";
import {
  HOST_FILES,
  HOST_KERNEL,
  HOST_TOOLS,
  type HostFile,
  type HostTool,
  type NeededFor,
  versionOf,
} from "./host_tools.ts";

export type { DiskFact, MemoryFact, OsFact };

/** A VM guest architecture (as in `TaskNeeds.vm`). */
export type GuestArch = "x86_64" | "aarch64";

/** The guest architectures kiln knows. */
export const GUEST_ARCHES: readonly GuestArch[] = ["x86_64", "aarch64"];

/** An executable, found or not. */
export interface ToolFact {
  readonly name: string;
  readonly neededFor: NeededFor;
  /** Absolute path, or null when not on PATH (nor in the sbin folders). */
  readonly path: string | null;
  /** The version number (`7.2.22`), or null when missing or when it did not answer. */
  readonly version: string | null;
  /** The first line it printed, as it printed it. */
  readonly line?: string;
  /** Why there is no version although the tool exists (timed out, failed to start). */
  readonly error?: string;
}

/** A file kiln reads (the demo's kernel, the boot loader), found or not. */
export interface FileFact {
  readonly name: string;
  readonly neededFor: NeededFor;
  readonly path: string | null;
  /** Where it was looked for, when missing. */
  readonly expected?: string;
}

/** Whether VMs of one guest architecture run here, and how fast. */
export interface VirtFact {
  readonly guestArch: GuestArch;
  /** `kvm`/`hvf`: hardware; `tcg`: software emulation; null: no VM of this arch can run. */
  readonly accelerator: Accelerator | null;
  /** KVM's state, on Linux, for the host's own architecture. */
  readonly kvm?: KvmState;
  /** One sentence: why this accelerator. */
  readonly why: string;
  /** Under TCG: the probe's sentence on how much slower, with what was measured and assumed. */
  readonly slowdown?: string;
  /** Under TCG, when measured: the probe VM's TCG boot time over a typical KVM boot, >= 1. */
  readonly slowdownFactor?: number;
  /** The probe's answer came from its cache (nothing was booted). */
  readonly fromCache?: boolean;
}

/** Everything kiln knows of this host; JSON-serializable (`kiln doctor --json` prints it). */
export interface HostFacts {
  readonly os: OsFact;
  /** `Deno.build.arch`: `x86_64` or `aarch64`. */
  readonly arch: string;
  readonly cores: number;
  /** Null when it could not be read. */
  readonly memory: MemoryFact | null;
  /** Of the workspace folder; null when `df` failed. */
  readonly disk: DiskFact | null;
  /** Every checked tool, by name. */
  readonly tools: Readonly<Record<string, ToolFact>>;
  readonly files: readonly FileFact[];
  readonly virt: Readonly<Partial<Record<GuestArch, VirtFact>>>;
  /** How long gathering took, in ms. */
  readonly gatherMs: number;
}

/** Options of {@link gatherHostFacts}; every default reads this host. */
export interface GatherOptions {
  /** The folder whose free disk counts (the workspace); default the current folder. */
  readonly dir?: string;
  /** Default {@link HOST_TOOLS}. */
  readonly tools?: readonly HostTool[];
  /** Extra tool names (a task's `needs.tools`), checked with `--version`, needed for `tests`. */
  readonly extraTools?: readonly string[];
  /** Default {@link HOST_FILES}. */
  readonly files?: readonly HostFile[];
  /** Where tools are looked for; default PATH plus the sbin folders. */
  readonly path?: string;
  /**
   * False: only find the tools, do not run them for their versions (placement needs only
   * presence; `packer version` alone takes ~200 ms). Default true.
   */
  readonly versions?: boolean;
  /** How long one tool gets to print its version (default 5 s; lintian takes ~1 s here). */
  readonly toolTimeoutMs?: number;
  /** Options for the accelerator probe (cache folder, KVM timeout...). */
  readonly probe?: ProbeOptions;
  /** Replaces {@link probeAccelerator} (tests). */
  readonly probeAccelerator?: (opts: ProbeOptions) => Promise<AccelProbe | Failure>;
  /** Replaces the host kernel lookup (tests): its path, or null when there is none. */
  readonly findKernel?: () => Promise<string | null>;
  readonly signal?: AbortSignal;
}

/**
 * Gathers the {@link HostFacts}: tool versions in parallel (each with a timeout), memory, disk,
 * and the accelerator probe, which boots a VM when nothing is cached (~8 s here, where KVM
 * hangs: 5 s for KVM to show it is unusable, then a TCG boot to measure the slowdown).
 *
 * @example
 * ```ts
 * const facts = await gatherHostFacts({ dir: Deno.cwd() });
 * console.log(facts.virt.x86_64?.accelerator, facts.tools.packer.version);
 * ```
 */
export async function gatherHostFacts(opts: GatherOptions = {}): Promise<HostFacts> {
  const started = performance.now();
  const isLinux = Deno.build.os === "linux";
  const path = opts.path ?? toolPath();
  const known = (opts.tools ?? HOST_TOOLS).filter((t) => isLinux || !t.linuxOnly);
  const extra = (opts.extraTools ?? []).filter((n) => !known.some((t) => t.name === n))
    .map((name): HostTool => ({ name, versionArgs: ["--version"], neededFor: "tests" }));
  const tools = [...known, ...extra];
  const [toolFacts, memory, disk, virt, kernel] = await Promise.all([
    Promise.all(
      tools.map((t) =>
        opts.versions === false
          ? toolPresence(t, path)
          : toolFact(t, path, opts.toolTimeoutMs ?? 5000, opts.signal)
      ),
    ),
    readMemory(),
    readDisk(opts.dir ?? Deno.cwd()),
    virtFacts(path, opts),
    isLinux ? (opts.findKernel ?? findKernel)() : Promise.resolve(undefined),
  ]);
  const files: FileFact[] = (opts.files ?? HOST_FILES)
    .filter((f) => isLinux || !f.linuxOnly)
    .map((f) => {
      const found = pathExists(f.path);
      return {
        name: f.name,
        neededFor: f.neededFor,
        path: found ? f.path : null,
        ...(found ? {} : { expected: f.path }),
      };
    });
  if (kernel !== undefined) {
    files.unshift({
      name: HOST_KERNEL,
      neededFor: "os-images",
      path: kernel,
      ...(kernel ? {} : { expected: "/boot/vmlinuz-*-amd64 with its modules" }),
    });
  }
  return {
    os: readOs(),
    arch: Deno.build.arch,
    cores: navigator.hardwareConcurrency ?? 1,
    memory,
    disk,
    tools: Object.fromEntries(toolFacts.map((t) => [t.name, t])),
    files,
    virt,
    gatherMs: Math.round(performance.now() - started),
  };
}

/** Finds `tool` on `path` and asks its version, giving up after `timeoutMs`. */
export async function toolFact(
  tool: HostTool,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ToolFact> {
  const base = { name: tool.name, neededFor: tool.neededFor };
  const bin = which(tool.name, path);
  if (!bin) return { ...base, path: null, version: null };
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const r = await new Deno.Command(bin, {
      args: [...tool.versionArgs],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    }).output();
    const dec = new TextDecoder();
    const line = (dec.decode(r.stdout).trim() || dec.decode(r.stderr).trim()).split("\n")[0]
      .trim();
    if (timeout.aborted) {
      return { ...base, path: bin, version: null, error: `no answer in ${timeoutMs} ms` };
    }
    if (!line) {
      return { ...base, path: bin, version: null, error: `printed nothing (exit ${r.code})` };
    }
    return { ...base, path: bin, version: versionOf(line), line };
  } catch (e) {
    return { ...base, path: bin, version: null, error: (e as Error).message.split("\n")[0] };
  }
}

/** Finds `tool` on `path` without running it: `version` stays null. */
export function toolPresence(tool: HostTool, path: string): ToolFact {
  return {
    name: tool.name,
    neededFor: tool.neededFor,
    path: which(tool.name, path),
    version: null,
  };
}

/** The accelerator for each guest architecture (see the module documentation). */
async function virtFacts(
  path: string,
  opts: GatherOptions,
): Promise<Partial<Record<GuestArch, VirtFact>>> {
  const host = Deno.build.arch as string;
  const out: Partial<Record<GuestArch, VirtFact>> = {};
  for (const guestArch of GUEST_ARCHES) {
    if (guestArch === host) {
      const probe = opts.probeAccelerator ?? probeAccelerator;
      out[guestArch] = fromProbe(
        guestArch,
        await probe({ ...opts.probe, guestArch, signal: opts.signal }),
      );
    } else {
      out[guestArch] = foreignArch(guestArch, host, which(`qemu-system-${guestArch}`, path));
    }
  }
  return out;
}

/** A {@link VirtFact} from the probe's answer (or its failure). */
export function fromProbe(guestArch: GuestArch, p: AccelProbe | Failure): VirtFact {
  if ("reason" in p) return { guestArch, accelerator: null, why: p.message };
  const factor = p.accelerator === "tcg" && p.bootMs?.tcg
    ? Math.max(1, Math.round(p.bootMs.tcg / TYPICAL_KVM_PROBE_MS))
    : undefined;
  return {
    guestArch,
    accelerator: p.accelerator,
    ...(p.kvm === "absent" && Deno.build.os !== "linux" ? {} : { kvm: p.kvm }),
    why: p.why,
    ...(p.slowdown ? { slowdown: p.slowdown } : {}),
    ...(factor ? { slowdownFactor: factor } : {}),
    fromCache: p.fromCache,
  };
}

/** Another architecture than the host's: only emulation, and only with its QEMU installed. */
export function foreignArch(guestArch: GuestArch, host: string, qemu: string | null): VirtFact {
  if (!qemu) {
    return {
      guestArch,
      accelerator: null,
      why: `No "qemu-system-${guestArch}" is installed, so no ${guestArch} VM can run here`,
    };
  }
  return {
    guestArch,
    accelerator: "tcg",
    why: `Hardware virtualization cannot run a ${guestArch} guest on a ${host} host, so QEMU ` +
      `emulates it (TCG)`,
    slowdown: "Not measured: emulating another architecture is typically 10x or more slower",
  };
}

async function findKernel(): Promise<string | null> {
  const { findHostKernel } = await import("../iso/demo/initramfs.ts");
  const k = findHostKernel();
  return "reason" in k ? null : k.path;
}
