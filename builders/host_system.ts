/**
 * The host's operating system, memory and free disk, read the way each OS allows:
 * `/etc/os-release` and `/proc/meminfo` on Linux, `sw_vers`, `sysctl` and `vm_stat` on macOS,
 * POSIX `df -Pk` everywhere. The parsers are exported apart so that the macOS formats are tested on Linux.
 * Part of the `HostFacts` of `host_facts.ts`.
 *
 * @module
 */

import { pathExists } from "../engine/fs_util.ts";

/** The operating system. */
export interface OsFact {
  /** `Deno.build.os`: `linux`, `darwin`, ... */
  readonly kind: string;
  /** Human name, e.g. `Debian GNU/Linux 12 (bookworm)` or `macOS 14.5`. */
  readonly name: string;
  /** `/etc/os-release` ID and ID_LIKE (e.g. `["ubuntu", "debian"]`): picks the package manager. */
  readonly ids: readonly string[];
  /** Kernel release (`Deno.osRelease()`). */
  readonly kernel: string;
  /** True when kiln runs as root (an install command then needs no `sudo`). */
  readonly root: boolean;
}

/** Memory in MiB. `available` is what new processes can get (MemAvailable; macOS: free+inactive). */
export interface MemoryFact {
  readonly totalMiB: number;
  readonly availableMiB: number;
}

/** Free space of the file system holding `path`, in MiB. */
export interface DiskFact {
  readonly path: string;
  readonly freeMiB: number;
  readonly totalMiB: number;
}

/** The operating system's name and ids. */
export function readOs(): OsFact {
  const kind = Deno.build.os;
  let name: string = kind;
  let ids: string[] = [];
  if (kind === "linux") {
    try {
      const rel = parseOsRelease(Deno.readTextFileSync("/etc/os-release"));
      name = rel.PRETTY_NAME ?? rel.NAME ?? name;
      ids = [rel.ID, ...(rel.ID_LIKE ?? "").split(/\s+/)].filter((s): s is string => !!s);
    } catch { /* not a systemd-era distribution: name stays "linux" */ }
  } else if (kind === "darwin") {
    const v = runSync("sw_vers", ["-productVersion"]);
    name = v ? `macOS ${v}` : "macOS";
    ids = ["macos"];
  }
  return { kind, name, ids, kernel: Deno.osRelease(), root: Deno.uid() === 0 };
}

/** `/etc/os-release` as a map (values unquoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Z_]+)=(?:"(.*)"|'(.*)'|(.*))$/);
    if (m) out[m[1]] = m[2] ?? m[3] ?? m[4];
  }
  return out;
}

/** Total and available memory: `/proc/meminfo` on Linux, `sysctl`/`vm_stat` on macOS. */
export function readMemory(): Promise<MemoryFact | null> {
  try {
    if (Deno.build.os === "linux") {
      return Promise.resolve(parseMeminfo(Deno.readTextFileSync("/proc/meminfo")));
    }
    if (Deno.build.os === "darwin") {
      const total = Number(runSync("sysctl", ["-n", "hw.memsize"]));
      const vm = runSync("vm_stat", []);
      return Promise.resolve(vm && total ? parseVmStat(vm, total) : null);
    }
  } catch { /* unreadable: unknown */ }
  return Promise.resolve(null);
}

/** Parses `/proc/meminfo` (kB): MemTotal, and MemAvailable (MemFree on kernels before 3.14). */
export function parseMeminfo(text: string): MemoryFact | null {
  const kb = (key: string) => {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) : null;
  };
  const total = kb("MemTotal");
  const available = kb("MemAvailable") ?? kb("MemFree");
  if (total === null || available === null) return null;
  return { totalMiB: Math.floor(total / 1024), availableMiB: Math.floor(available / 1024) };
}

/**
 * Parses macOS `vm_stat` (pages, with the page size in its first line); available is free +
 * inactive + speculative + purgeable pages, as Activity Monitor counts what can be reclaimed.
 */
export function parseVmStat(text: string, totalBytes: number): MemoryFact | null {
  const pageSize = Number(text.match(/page size of (\d+) bytes/)?.[1]);
  if (!pageSize) return null;
  const pages = (label: string) =>
    Number(text.match(new RegExp(`^Pages ${label}:\\s+(\\d+)\\.?$`, "m"))?.[1] ?? 0);
  const free = pages("free") + pages("inactive") + pages("speculative") + pages("purgeable");
  const mib = 1024 * 1024;
  return {
    totalMiB: Math.floor(totalBytes / mib),
    availableMiB: Math.floor(free * pageSize / mib),
  };
}

/** Free space of the file system holding `dir` (or its nearest existing parent), by `df -Pk`. */
export async function readDisk(dir: string): Promise<DiskFact | null> {
  let at = dir;
  while (!pathExists(at) && at.includes("/") && at !== "/") {
    at = at.slice(0, at.lastIndexOf("/")) || "/";
  }
  try {
    const r = await new Deno.Command("df", {
      args: ["-Pk", at],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { LC_ALL: "C" },
    }).output();
    if (!r.success) return null;
    const parsed = parseDfPk(new TextDecoder().decode(r.stdout));
    return parsed ? { path: dir, ...parsed } : null;
  } catch {
    return null;
  }
}

/** Parses POSIX `df -Pk` output (1024-byte blocks) of one file system. */
export function parseDfPk(text: string): { freeMiB: number; totalMiB: number } | null {
  const line = text.trim().split("\n").at(-1) ?? "";
  const m = line.match(/\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s/);
  if (!m) return null;
  return { totalMiB: Math.floor(Number(m[1]) / 1024), freeMiB: Math.floor(Number(m[3]) / 1024) };
}

function runSync(cmd: string, args: string[]): string | null {
  try {
    const r = new Deno.Command(cmd, { args, stdin: "null", stderr: "null" }).outputSync();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : null;
  } catch {
    return null;
  }
}
