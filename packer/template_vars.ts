/**
 * The variable contract of kiln's packer templates: the input variables every template takes,
 * declared once in `packer/variables.pkr.hcl` ({@link TEMPLATE_VARIABLES}), the checked `-var` arguments kiln passes for them
 * ({@link templateVars}), and reading which variables a template declares. Kept apart from
 * `templates.ts` (locating, copying and validating templates) because the demo template and the
 * packer runner follow this contract too.
 *
 * @module
 */

import { ConfigError } from "../engine/failure.ts";

/**
 * The input variables every template declares, no more, in the order {@link templateVars}
 * passes them. The demo template and the packer runner follow the same contract.
 */
export const TEMPLATE_VARIABLES = [
  "iso_url",
  "iso_checksum",
  "output_directory",
  "vm_name",
  "accelerator",
  "serial_log",
  "headless",
  "cpus",
  "memory",
  "disk_size",
  "boot_wait",
  "shutdown_timeout",
] as const;

/** One of {@link TEMPLATE_VARIABLES}. */
export type TemplateVariable = typeof TEMPLATE_VARIABLES[number];

/** QEMU accelerators the templates accept. */
export type Accelerator = "kvm" | "tcg" | "hvf";

/** Values for a template's variables; see the descriptions in `packer/variables.pkr.hcl`. */
export interface TemplateVarsOptions {
  /** A local path or URL of the ISO. */
  readonly isoUrl: string;
  /** SHA-256 of the ISO: 64 hex digits, with or without the `sha256:` prefix. */
  readonly isoSha256: string;
  /** Absolute path where packer writes the image; must not exist. */
  readonly outputDirectory: string;
  /** The image's file name, e.g. `ubuntu-22.04.qcow2`. */
  readonly vmName: string;
  readonly accelerator: Accelerator;
  /** Absolute path of the serial console log. */
  readonly serialLog: string;
  /** Default true. */
  readonly headless?: boolean;
  readonly cpus: number;
  /** MiB. */
  readonly memory: number;
  /** e.g. `20G`. */
  readonly diskSize: string;
  /** e.g. `10s`. */
  readonly bootWait: string;
  /** e.g. `120m`: the whole unattended install must finish within it. */
  readonly shutdownTimeout: string;
}

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function bad(message: string): never {
  throw new ConfigError(message);
}

/**
 * The `-var` arguments for a template, in {@link TEMPLATE_VARIABLES} order. Values go to packer
 * as argv (no shell), so spaces and quotes need no escaping. Throws {@link ConfigError} for a
 * value packer would reject later, or worse, accept (a relative serial log lands wherever packer
 * runs).
 *
 * @example
 * ```ts
 * const args = templateVars({ isoUrl: "/isos/u.iso", isoSha256: "ab…", ... });
 * // ["-var", "iso_url=/isos/u.iso", "-var", "iso_checksum=sha256:ab…", ...]
 * ```
 */
export function templateVars(o: TemplateVarsOptions): string[] {
  const hex = o.isoSha256.replace(/^sha256:/, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    bad(`ISO checksum "${o.isoSha256}" is not a SHA-256: give 64 hex digits`);
  }
  if (o.isoUrl === "") bad(`ISO URL is empty: give the ISO's path or URL`);
  if (!o.outputDirectory.startsWith("/")) {
    bad(`Output directory "${o.outputDirectory}" is not absolute: give an absolute path`);
  }
  if (o.vmName === "" || o.vmName.includes("/")) {
    bad(`VM name "${o.vmName}" is not a file name: give a name such as "ubuntu-22.04.qcow2"`);
  }
  if (!["kvm", "tcg", "hvf"].includes(o.accelerator)) {
    bad(`Accelerator "${o.accelerator}" is unknown: use "kvm", "tcg" or "hvf"`);
  }
  if (!o.serialLog.startsWith("/")) {
    bad(`Serial log "${o.serialLog}" is not absolute: give an absolute path`);
  }
  for (const [name, n] of [["CPU count", o.cpus], ["Memory", o.memory]] as const) {
    if (!Number.isInteger(n) || n < 1) bad(`${name} ${n} is not a positive integer: fix it`);
  }
  if (!/^\d+[KMGT]?$/.test(o.diskSize)) {
    bad(`Disk size "${o.diskSize}" is not a size: use a number with K, M, G or T, e.g. "20G"`);
  }
  for (const [name, d] of [["Boot wait", o.bootWait], ["Shutdown timeout", o.shutdownTimeout]]) {
    if (!DURATION.test(d)) bad(`${name} "${d}" is not a duration: use e.g. "10s" or "2h"`);
  }
  const values: Record<TemplateVariable, string> = {
    iso_url: o.isoUrl,
    iso_checksum: `sha256:${hex}`,
    output_directory: o.outputDirectory,
    vm_name: o.vmName,
    accelerator: o.accelerator,
    serial_log: o.serialLog,
    headless: String(o.headless ?? true),
    cpus: String(o.cpus),
    memory: String(o.memory),
    disk_size: o.diskSize,
    boot_wait: o.bootWait,
    shutdown_timeout: o.shutdownTimeout,
  };
  return TEMPLATE_VARIABLES.flatMap((name) => ["-var", `${name}=${values[name]}`]);
}

/**
 * The names of the `variable "..." {` blocks in HCL text, in order. Enough for kiln's own
 * templates (one block per variable, comments with `#`); not a general HCL parser.
 */
export function declaredVariables(hcl: string): string[] {
  const text = hcl.replace(/^\s*(#|\/\/).*$/gm, "");
  return [...text.matchAll(/^\s*variable\s+"([^"]+)"\s*\{/gm)].map((m) => m[1]);
}
