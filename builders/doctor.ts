/**
 * `kiln doctor`'s verdict on a host: a table of what was found (OS, CPU, memory, disk, VM
 * acceleration, every tool and file the pipelines use), the install command for what is
 * missing, and an exit code. Pure functions of the {@link HostFacts}, so the verdict is tested
 * with made-up hosts.
 *
 * Exit code: 0 when everything kiln's pipelines need (the OS images and the release) is here;
 * 1 when something they need is missing, or when no VM of the host's own architecture can run
 * at all. Software emulation (KVM unusable: TCG) is a warning, not an error, since every VM
 * step works under TCG, only slower. Tools only the tests use are reported and put in the
 * install command, but do not fail the check; nor does low memory or disk (shown as `low`).
 *
 * @module
 */

import { GUEST_ARCHES, type HostFacts, type VirtFact } from "./host_facts.ts";
import { isRequired, type NeededFor } from "./host_tools.ts";
import { type InstallHint, installHint } from "./install_hint.ts";

/** Below this much available memory, the memory row says `low`: a real distro's VM takes 2 GiB. */
export const LOW_MEMORY_MIB = 2048;

/** Below this much free disk, the disk row says `low`: a DVD ISO and an image take ~10 GiB. */
export const LOW_DISK_MIB = 10 * 1024;

/**
 * A row's status: `ok`; `missing` (needed and absent); `absent` (not installed, needed only
 * for another architecture's VMs); `slow` (VMs under software emulation); `low` (memory or
 * disk below what a real distro build takes); `failed` (no VM can run, or a tool that is
 * there did not answer its version).
 */
export type RowStatus = "ok" | "missing" | "absent" | "slow" | "low" | "failed";

/** One line of the table. */
export interface DoctorRow {
  readonly what: string;
  readonly value: string;
  readonly status: RowStatus;
  /** What needs it (`os-images`, `release`, `tests`, `other-arch`), for tools and files. */
  readonly neededFor?: NeededFor;
}

/** The verdict. */
export interface DoctorReport {
  readonly rows: readonly DoctorRow[];
  /** Sentences printed under the table: why VMs are emulated, and how much slower. */
  readonly notes: readonly string[];
  /** Names of missing tools and files the pipelines need (these make the exit code 1). */
  readonly missing: readonly string[];
  /** Names of missing tools only the tests use. */
  readonly missingForTests: readonly string[];
  /** How to install everything in `missing` and `missingForTests`. */
  readonly install: InstallHint;
  /** 0 when the pipelines can run here (maybe slowly), else 1. */
  readonly exitCode: 0 | 1;
}

/**
 * The verdict on `facts` (see the module documentation for the exit code).
 *
 * @example
 * ```ts
 * const report = doctorReport(await gatherHostFacts());
 * console.log(renderDoctor(report));
 * ```
 */
export function doctorReport(facts: HostFacts): DoctorReport {
  const rows: DoctorRow[] = [];
  const notes: string[] = [];
  const missing: string[] = [];
  const missingForTests: string[] = [];
  let broken = false;

  rows.push({ what: "OS", value: `${facts.os.name} (kernel ${facts.os.kernel})`, status: "ok" });
  rows.push({ what: "CPU", value: `${facts.arch}, ${facts.cores} cores`, status: "ok" });
  const m = facts.memory;
  rows.push(
    m
      ? {
        what: "memory",
        value: `${gib(m.availableMiB)} available of ${gib(m.totalMiB)}`,
        status: m.availableMiB < LOW_MEMORY_MIB ? "low" : "ok",
      }
      : { what: "memory", value: "unknown (could not be read)", status: "low" },
  );
  const d = facts.disk;
  rows.push(
    d
      ? {
        what: "disk",
        value: `${gib(d.freeMiB)} free of ${gib(d.totalMiB)} at ${d.path}`,
        status: d.freeMiB < LOW_DISK_MIB ? "low" : "ok",
      }
      : { what: "disk", value: "unknown (df failed)", status: "low" },
  );

  for (const arch of GUEST_ARCHES) {
    const v = facts.virt[arch];
    if (!v) continue;
    const native = arch === facts.arch;
    const row = virtRow(v, native);
    rows.push(row);
    if (row.status === "failed") broken = true;
    if (row.status !== "ok" && (native || v.accelerator)) {
      notes.push(`${arch} VMs: ${v.why}${v.slowdown ? `. ${v.slowdown}` : ""}`);
    }
  }

  for (const t of Object.values(facts.tools)) {
    let status: RowStatus = "ok";
    let value = t.version ?? t.error ?? "not installed";
    if (!t.path) {
      value = "not installed";
      status = t.neededFor === "other-arch" ? "absent" : "missing";
      if (isRequired(t.neededFor)) missing.push(t.name);
      else if (t.neededFor === "tests") missingForTests.push(t.name);
    } else if (t.version === null) {
      value = `${t.path}: ${t.error ?? "no version"}`;
      status = "failed";
      if (isRequired(t.neededFor)) broken = true;
    }
    rows.push({ what: t.name, value, status, neededFor: t.neededFor });
  }
  for (const f of facts.files) {
    rows.push({
      what: f.name,
      value: f.path ?? `not found (${f.expected ?? "?"})`,
      status: f.path ? "ok" : "missing",
      neededFor: f.neededFor,
    });
    if (!f.path) (isRequired(f.neededFor) ? missing : missingForTests).push(f.name);
  }

  return {
    rows,
    notes,
    missing,
    missingForTests,
    install: installHint([...missing, ...missingForTests], facts.os),
    exitCode: missing.length || broken ? 1 : 0,
  };
}

function virtRow(v: VirtFact, native: boolean): DoctorRow {
  const what = `${v.guestArch} VMs`;
  const cached = v.fromCache ? ", probe cached" : "";
  if (v.accelerator === null) {
    return {
      what,
      value: native ? "cannot run (see below)" : `not available (no qemu-system-${v.guestArch})`,
      status: native ? "failed" : "absent",
    };
  }
  if (v.accelerator !== "tcg") {
    return { what, value: `${v.accelerator.toUpperCase()}${cached}`, status: "ok" };
  }
  const why = v.kvm === "unusable"
    ? "KVM unusable"
    : v.kvm === "absent"
    ? "no KVM"
    : "no hardware virtualization";
  const factor = v.slowdownFactor ? `, ~${v.slowdownFactor}x slower` : "";
  return { what, value: `TCG (${why}${factor}${cached})`, status: "slow" };
}

/**
 * The report as text: the table, its notes, then the install command, or a line saying all
 * is well.
 */
export function renderDoctor(r: DoctorReport): string {
  const head = ["what", "value", "status", "needed for"];
  const cells = r.rows.map((x) => [x.what, x.value, x.status, x.neededFor ?? ""]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i])).join("  ").trimEnd();
  const out = [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  if (r.notes.length) out.push("", ...r.notes);
  out.push("");
  const names = [...r.missing, ...r.missingForTests];
  if (names.length) {
    const parts = [
      r.missing.length ? `the pipelines need ${r.missing.join(", ")}` : "",
      r.missingForTests.length ? `the tests need ${r.missingForTests.join(", ")}` : "",
    ].filter(Boolean);
    out.push(`Missing: ${parts.join("; ")}`);
    if (r.install.command) out.push(`Install with: ${r.install.command}`);
    if (r.install.unknown.length) {
      const how = r.install.manager
        ? `no ${r.install.manager} package is known for`
        : "install with your package manager";
      out.push(`Also ${how}: ${r.install.unknown.join(", ")}`);
    }
  }
  out.push(
    r.exitCode === 0
      ? "Everything the pipelines need is here" +
        (r.rows.some((x) => x.status === "slow") ? " (VMs run under software emulation)" : "")
      : "This host cannot run every pipeline: install what is missing, or build elsewhere",
  );
  return out.join("\n");
}

function gib(mib: number): string {
  return `${(mib / 1024).toFixed(1)} GiB`;
}
