/**
 * The demo distro's boot files, made from this machine's own Debian packages and nothing
 * downloaded: the host kernel (`linux-image-amd64`) and a busybox initramfs (`busybox-static`)
 * whose `/init` (`init.sh`) installs a marker onto a disk, reads it back, or only proves that the
 * VM boots. It lets the whole OS-image pipeline (ISO, packer, validate) run offline in seconds.
 *
 * The archive is reproducible: files are sorted, owned by root, stamped with one fixed mtime
 * (`SOURCE_DATE_EPOCH`, default the kernel's mtime), `cpio --reproducible`, `gzip -n`.
 *
 * Finding and running the host tools it needs is `host_tools.ts`.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { hashFile } from "../../engine/hash.ts";
import { requireTools, runStep } from "./host_tools.ts";

export { requireTools, runStep, type StepOptions, toolPath } from "./host_tools.ts";

/** Kernel modules the demo's `/init` loads: disk controllers and the file system. */
export const DEMO_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "ahci",
  "ata_piix",
  "sd_mod",
  "ext4",
  "crc32c_generic",
] as const;

/** A kernel installed on this machine, with its modules. */
export interface HostKernel {
  /** The compressed kernel (`/boot/vmlinuz-<version>`), bootable by isolinux and QEMU. */
  readonly path: string;
  /** `uname -r` style, e.g. `6.1.0-56-amd64`. */
  readonly version: string;
  /** `/lib/modules/<version>`. */
  readonly modulesDir: string;
}

/** Where {@link findHostKernel} looks (tests point it elsewhere). */
export interface KernelSearch {
  readonly bootDir?: string;
  readonly modulesRoot?: string;
}

/**
 * The newest x86-64 Debian kernel in `/boot` that has its modules installed: the demo distro's
 * kernel. Fails with `tool-missing` (naming the package) when there is none, or when it is not
 * readable (Ubuntu installs it mode 0600).
 *
 * @example
 * ```ts
 * const k = findHostKernel(); // { path: "/boot/vmlinuz-6.1.0-56-amd64", version: "6.1.0-56-amd64", ... }
 * ```
 */
export function findHostKernel(search: KernelSearch = {}): HostKernel | Failure {
  const bootDir = search.bootDir ?? "/boot";
  const modulesRoot = search.modulesRoot ?? "/lib/modules";
  const found: HostKernel[] = [];
  try {
    for (const e of Deno.readDirSync(bootDir)) {
      const m = e.name.match(/^vmlinuz-(.+-amd64)$/);
      if (!m) continue;
      const modulesDir = `${modulesRoot}/${m[1]}`;
      if (Deno.statSync(modulesDir).isDirectory) {
        found.push({ path: `${bootDir}/${e.name}`, version: m[1], modulesDir });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (found.length === 0) {
    return failure(
      "tool-missing",
      `No kernel "${bootDir}/vmlinuz-*-amd64" with modules in "${modulesRoot}": ` +
        `install the Debian package "linux-image-amd64"`,
    );
  }
  const collator = new Intl.Collator("en", { numeric: true });
  const kernel = found.sort((a, b) => collator.compare(b.version, a.version))[0];
  try {
    Deno.openSync(kernel.path, { read: true }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    return failure(
      "tool-missing",
      `Kernel "${kernel.path}" is not readable: run as root or make it readable (chmod 0644)`,
    );
  }
  return kernel;
}

/** Options of {@link buildDemoInitramfs}. */
export interface InitramfsOptions {
  /** Default: {@link findHostKernel}. */
  readonly kernel?: HostKernel;
  /** Modules to include with their dependencies; default {@link DEMO_MODULES} (`[]` for a probe). */
  readonly modules?: readonly string[];
  /** The mtime of every file; default `SOURCE_DATE_EPOCH`, else the kernel's mtime. */
  readonly sourceDateEpoch?: number;
  /**
   * The script that becomes `/init`; default the `init.sh` beside this module. A task passes the
   * copy it declares as its input, so that what is keyed is what is built.
   */
  readonly initScript?: string;
  readonly signal?: AbortSignal;
}

/** A built initramfs. */
export interface DemoInitramfs {
  readonly path: string;
  readonly sha256: string;
  readonly kernel: HostKernel;
  /** Module files included, relative to the modules folder, in load order. */
  readonly modules: readonly string[];
  readonly sourceDateEpoch: number;
}

/** The fixed mtime of a reproducible build: `SOURCE_DATE_EPOCH`, else `file`'s mtime. */
export function sourceDateEpochOf(file: string): number {
  const env = Deno.env.get("SOURCE_DATE_EPOCH");
  if (env && /^\d+$/.test(env)) return Number(env);
  return Math.floor((Deno.statSync(file).mtime?.getTime() ?? 0) / 1000);
}

/**
 * True when the ELF file at `path` has no program interpreter (statically linked). A dynamic
 * busybox (package `busybox`) inside an initramfs without libc panics the kernel at boot.
 */
export function isStaticElf(path: string): boolean {
  const b = Deno.readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 64 || v.getUint32(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    if (v.getUint32(phoff + i * phentsize, true) === 3) return false; // PT_INTERP
  }
  return true;
}

/**
 * Builds the demo initramfs at `dest`: static busybox, `init.sh` as `/init`, the modules and
 * their dependencies (`modprobe --show-depends`, indexed by `depmod -b`). Assembled in a folder
 * beside `dest` and renamed into place: a failure or abort leaves nothing behind.
 *
 * @example
 * ```ts
 * const r = await buildDemoInitramfs("out/initrd.gz");
 * if ("reason" in r) console.error(r.message); else console.log(r.sha256);
 * ```
 */
export async function buildDemoInitramfs(
  dest: string,
  opts: InitramfsOptions = {},
): Promise<DemoInitramfs | Failure> {
  const kernel = opts.kernel ?? findHostKernel();
  if ("reason" in kernel) return kernel;
  const tools = requireTools({
    busybox: "busybox-static",
    modprobe: "kmod",
    depmod: "kmod",
    cpio: "cpio",
    gzip: "gzip",
  });
  if ("reason" in tools) return tools;
  if (!isStaticElf(tools.busybox)) {
    return failure(
      "tool-missing",
      `Busybox "${tools.busybox}" is not statically linked: install the Debian package "busybox-static"`,
    );
  }
  const epoch = opts.sourceDateEpoch ?? sourceDateEpochOf(kernel.path);
  const stage = `${dest}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const root = `${stage}/root`;
  const signal = opts.signal;
  try {
    const found = await moduleFiles(tools.modprobe, kernel, opts.modules ?? DEMO_MODULES, signal);
    if (!Array.isArray(found)) return found;
    const modRoot = `${root}/lib/modules/${kernel.version}`;
    for (const d of ["bin", "dev", "proc", "sys", "mnt", "tmp"]) {
      Deno.mkdirSync(`${root}/${d}`, { recursive: true });
    }
    Deno.mkdirSync(modRoot, { recursive: true });
    Deno.copyFileSync(tools.busybox, `${root}/bin/busybox`);
    Deno.chmodSync(`${root}/bin/busybox`, 0o755);
    Deno.writeTextFileSync(
      `${root}/init`,
      Deno.readTextFileSync(opts.initScript ?? new URL("./init.sh", import.meta.url)),
    );
    Deno.chmodSync(`${root}/init`, 0o755);
    const mods: string[] = [];
    for (const rel of found) {
      Deno.mkdirSync(`${modRoot}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
      Deno.copyFileSync(`${kernel.modulesDir}/${rel}`, `${modRoot}/${rel}`);
      const plain = await decompressModule(modRoot, rel, signal);
      if (typeof plain !== "string") return plain;
      mods.push(plain);
    }
    for (const f of ["modules.builtin", "modules.builtin.modinfo"]) {
      try {
        Deno.copyFileSync(`${kernel.modulesDir}/${f}`, `${modRoot}/${f}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    const dep = await runStep([tools.depmod, "-b", root, kernel.version], "initramfs-failed", {
      signal,
    });
    if (typeof dep !== "string") return dep;
    const files = stampTree(root, epoch);
    const list = new TextEncoder().encode(files.map((f) => f + "\0").join(""));
    const cpio = [tools.cpio, "--null", "--create", "--format=newc", "--reproducible"];
    const archive = `${stage}/initrd`;
    const made = await runStep(
      [...cpio, "--owner=0:0", "--quiet", `-O${archive}`],
      "initramfs-failed",
      { cwd: root, stdin: list, signal },
    );
    if (typeof made !== "string") return made;
    const gz = await runStep([tools.gzip, "-n", "-6", archive], "initramfs-failed", { signal });
    if (typeof gz !== "string") return gz;
    Deno.renameSync(`${archive}.gz`, dest);
    const { digest } = await hashFile(dest);
    return { path: dest, sha256: digest, kernel, modules: mods, sourceDateEpoch: epoch };
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/** Module compression -> decompressor and its Debian package. */
const DECOMPRESSORS: Record<string, ["xz" | "zstd" | "gzip", string]> = {
  ".xz": ["xz", "xz-utils"],
  ".zst": ["zstd", "zstd"],
  ".gz": ["gzip", "gzip"],
};

/**
 * Decompresses module `rel` in place when the kernel ships it compressed (Debian 13 uses
 * `.ko.xz`), since busybox modprobe may not read compressed modules; returns its `.ko` path.
 */
async function decompressModule(
  modRoot: string,
  rel: string,
  signal?: AbortSignal,
): Promise<string | Failure> {
  const ext = rel.match(/\.ko(\.\w+)$/)?.[1];
  if (!ext) return rel;
  const [tool, debian] = DECOMPRESSORS[ext] ?? [];
  if (!tool) {
    return failure("initramfs-failed", `Module "${rel}" has an unknown compression "${ext}"`);
  }
  const found = requireTools({ [tool]: debian } as Record<typeof tool, string>);
  if ("reason" in found) return found;
  const file = `${modRoot}/${rel}`;
  const done = await runStep([found[tool], "-d", "-f", "-q", file], "initramfs-failed", { signal });
  return typeof done === "string" ? rel.slice(0, -ext.length) : done;
}

/** Module files (relative to the kernel's modules folder) that `modules` need, in load order. */
async function moduleFiles(
  modprobe: string,
  kernel: HostKernel,
  modules: readonly string[],
  signal?: AbortSignal,
): Promise<string[] | Failure> {
  const out: string[] = [];
  for (const m of modules) {
    const said = await runStep(
      [modprobe, "-S", kernel.version, "--show-depends", m],
      "initramfs-failed",
      { signal },
    );
    if (typeof said !== "string") return said;
    for (const line of said.split("\n")) {
      const path = line.match(/^insmod (\S+)/)?.[1];
      if (!path) continue; // "builtin <name>": compiled into the kernel
      const rel = path.slice(path.indexOf(`/${kernel.version}/`) + kernel.version.length + 2);
      if (!out.includes(rel)) out.push(rel);
    }
  }
  return out;
}

/** Sets every entry under `root` to mtime `epoch`; returns the paths (`./...`), sorted. */
function stampTree(root: string, epoch: number): string[] {
  const out: string[] = ["."];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}/${rel}`)) {
      const p = `${rel}/${e.name}`;
      out.push(p);
      if (e.isDirectory) walk(p);
    }
  };
  walk(".");
  out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const p of [...out].reverse()) Deno.utimeSync(`${root}/${p}`, epoch, epoch);
  return out;
}
