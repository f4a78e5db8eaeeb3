/**
 * From "these tools are missing" to the one command that installs them: `apt-get install` on
 * Debian and Ubuntu, `brew install` on macOS. The package names were checked with `dpkg -S` on
 * Debian 12; a name with no package on a platform (lintian has no Homebrew formula) is listed
 * apart, so the command never names a package that does not exist.
 *
 * @module
 */

import { HOST_KERNEL } from "./host_tools.ts";
import type { OsFact } from "./host_facts.ts";

/** A package manager kiln can name a command for. */
export type PackageManager = "apt" | "brew";

/** Tool or file name -> Debian/Ubuntu package. */
export const APT_PACKAGES: Readonly<Record<string, string>> = {
  "packer": "packer",
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-system-aarch64": "qemu-system-arm",
  "qemu-img": "qemu-utils",
  "xorriso": "xorriso",
  "busybox": "busybox-static",
  "cpio": "cpio",
  "modprobe": "kmod",
  "depmod": "kmod",
  [HOST_KERNEL]: "linux-image-amd64",
  "isolinux.bin": "isolinux",
  "ldlinux.c32": "syslinux-common",
  "ruby": "ruby",
  "git": "git",
  "gpg": "gnupg",
  "gpgv": "gpgv",
  "dpkg-deb": "dpkg",
  "dpkg-scanpackages": "dpkg-dev",
  "lintian": "lintian",
  "apt-get": "apt",
  "apt-ftparchive": "apt-utils",
  "nginx": "nginx",
  "zstd": "zstd",
  "xz": "xz-utils",
  "curl": "curl",
};

/**
 * Tool name -> Homebrew formula. Packer left homebrew-core with its licence change; HashiCorp's
 * tap has it. Deno is installed with npm or its own installer, not named here.
 */
export const BREW_FORMULAS: Readonly<Record<string, string>> = {
  "packer": "hashicorp/tap/packer",
  "qemu-system-x86_64": "qemu",
  "qemu-system-aarch64": "qemu",
  "qemu-img": "qemu",
  "xorriso": "xorriso",
  "cpio": "cpio",
  "ruby": "ruby",
  "git": "git",
  "gpg": "gnupg",
  "gpgv": "gnupg",
  "dpkg-deb": "dpkg",
  "nginx": "nginx",
  "zstd": "zstd",
  "xz": "xz",
  "curl": "curl",
};

/** What to tell the user about installing `missing`. */
export interface InstallHint {
  /** Null when the OS has no package manager kiln knows. */
  readonly manager: PackageManager | null;
  /** The packages, sorted, without duplicates. */
  readonly packages: readonly string[];
  /** One shell command, or null when there is nothing to install with it. */
  readonly command: string | null;
  /** Names no package of this manager provides: the user installs them by other means. */
  readonly unknown: readonly string[];
}

/**
 * The package manager of an OS: apt on Debian, Ubuntu and their derivatives (`ID_LIKE`), brew
 * on macOS, else null.
 */
export function packageManagerFor(os: Pick<OsFact, "kind" | "ids">): PackageManager | null {
  if (os.kind === "darwin") return "brew";
  if (os.kind === "linux" && os.ids.some((id) => id === "debian" || id === "ubuntu")) return "apt";
  return null;
}

/**
 * The install command for the missing tool and file names.
 *
 * @example
 * ```ts
 * installHint(["packer", "qemu-img"], { kind: "linux", ids: ["debian"], root: false });
 * // { manager: "apt", packages: ["packer", "qemu-utils"], unknown: [],
 * //   command: "sudo apt-get install -y packer qemu-utils" }
 * ```
 */
export function installHint(
  missing: readonly string[],
  os: Pick<OsFact, "kind" | "ids" | "root">,
): InstallHint {
  const manager = packageManagerFor(os);
  if (manager === null) {
    return { manager, packages: [], command: null, unknown: [...new Set(missing)].sort() };
  }
  const table = manager === "apt" ? APT_PACKAGES : BREW_FORMULAS;
  const packages = new Set<string>();
  const unknown = new Set<string>();
  for (const name of missing) {
    const p = Object.hasOwn(table, name) ? table[name] : undefined;
    if (p) packages.add(p);
    else unknown.add(name);
  }
  const list = [...packages].sort();
  let command: string | null = null;
  if (list.length && manager === "apt") {
    command = `${os.root ? "" : "sudo "}apt-get install -y ${list.join(" ")}`;
  } else if (list.length) command = `brew install ${list.join(" ")}`;
  return { manager, packages: list, command, unknown: [...unknown].sort() };
}
