/**
 * What kiln's pipelines and tests ask of a host, as a list: the executables (with how to ask
 * each its version) and the few files (the demo's kernel and boot loader) without which a
 * pipeline stops halfway. `kiln doctor` checks every entry; `install_hint.ts` maps a missing one
 * to a package. One list, so that a new tool is added once.
 *
 * @module
 */

/** What a host requirement is for; decides whether its absence makes `kiln doctor` fail. */
export type NeededFor =
  /** `deno task build:demo` and the other OS images: missing is an error. */
  | "os-images"
  /** `deno task package` (kiln's own release): missing is an error. */
  | "release"
  /** Only the tests drive it (dpkg-deb, apt, gpgv, nginx...): missing is reported, not an error. */
  | "tests"
  /** Only VMs of another architecture need it: shown when installed, never an error. */
  | "other-arch";

/** True when a missing requirement for `what` makes the host unable to run kiln's pipelines. */
export function isRequired(what: NeededFor): boolean {
  return what === "os-images" || what === "release";
}

/** An executable kiln runs. */
export interface HostTool {
  readonly name: string;
  /** Arguments that print its version on the first line (stdout or stderr). */
  readonly versionArgs: readonly string[];
  readonly neededFor: NeededFor;
  /** Only checked on Linux (the demo's initramfs tools: there is no demo build on macOS). */
  readonly linuxOnly?: boolean;
}

/** A file kiln reads from the host (not an executable). */
export interface HostFile {
  /** Short name shown by `doctor` and used by `install_hint.ts`. */
  readonly name: string;
  readonly path: string;
  readonly neededFor: NeededFor;
  readonly linuxOnly?: boolean;
}

/**
 * Every tool `kiln doctor` checks. `gpg` and `gzip` are absent on purpose: kiln signs with
 * openpgp.js, and gzip is part of every base system.
 */
export const HOST_TOOLS: readonly HostTool[] = [
  { name: "packer", versionArgs: ["version"], neededFor: "os-images" },
  { name: "qemu-system-x86_64", versionArgs: ["--version"], neededFor: "os-images" },
  { name: "qemu-system-aarch64", versionArgs: ["--version"], neededFor: "other-arch" },
  { name: "qemu-img", versionArgs: ["--version"], neededFor: "os-images" },
  { name: "xorriso", versionArgs: ["-version"], neededFor: "os-images" },
  { name: "busybox", versionArgs: [], neededFor: "os-images", linuxOnly: true },
  { name: "cpio", versionArgs: ["--version"], neededFor: "os-images", linuxOnly: true },
  { name: "modprobe", versionArgs: ["--version"], neededFor: "os-images", linuxOnly: true },
  { name: "depmod", versionArgs: ["--version"], neededFor: "os-images", linuxOnly: true },
  { name: "ruby", versionArgs: ["--version"], neededFor: "release" },
  { name: "git", versionArgs: ["--version"], neededFor: "release" },
  { name: "deno", versionArgs: ["--version"], neededFor: "release" },
  { name: "gpg", versionArgs: ["--version"], neededFor: "tests" },
  { name: "gpgv", versionArgs: ["--version"], neededFor: "tests" },
  { name: "dpkg-deb", versionArgs: ["--version"], neededFor: "tests" },
  { name: "lintian", versionArgs: ["--version"], neededFor: "tests", linuxOnly: true },
  { name: "apt-get", versionArgs: ["--version"], neededFor: "tests", linuxOnly: true },
  { name: "apt-ftparchive", versionArgs: ["--version"], neededFor: "tests", linuxOnly: true },
  { name: "nginx", versionArgs: ["-v"], neededFor: "tests" },
  { name: "zstd", versionArgs: ["--version"], neededFor: "tests" },
  { name: "xz", versionArgs: ["--version"], neededFor: "tests" },
];

/**
 * Files the demo distro's build reads: the BIOS boot loader of its ISO (the paths of
 * `iso/demo/demo_iso.ts`). The host kernel is checked apart (`findHostKernel`), since its name
 * carries a version.
 */
export const HOST_FILES: readonly HostFile[] = [
  {
    name: "isolinux.bin",
    path: "/usr/lib/ISOLINUX/isolinux.bin",
    neededFor: "os-images",
    linuxOnly: true,
  },
  {
    name: "ldlinux.c32",
    path: "/usr/lib/syslinux/modules/bios/ldlinux.c32",
    neededFor: "os-images",
    linuxOnly: true,
  },
];

/** The name `doctor` and `install_hint.ts` use for the demo's host kernel. */
export const HOST_KERNEL = "linux-kernel";

/**
 * The version in a tool's first line of output: the first dotted number, else the whole line.
 *
 * @example
 * ```ts
 * versionOf("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)"); // "7.2.22"
 * versionOf("Packer v1.6.6"); // "1.6.6"
 * ```
 */
export function versionOf(line: string): string {
  return line.match(/\d+(?:\.\d+)+/)?.[0] ?? line.match(/\bversion (\d+)\b/)?.[1] ?? line;
}
