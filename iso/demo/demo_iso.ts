/**
 * The demo distro's installer ISO: the host kernel and the demo initramfs (`initramfs.ts`) on a
 * BIOS-bootable ISO (isolinux, serial console), built offline in about a second. Booted by packer
 * like a real installer, it partitions the VM's disk, writes a marker and powers off; booting
 * the result in read-back mode proves the image holds what the installer wrote.
 *
 * The ISO is reproducible: every file and volume date is `SOURCE_DATE_EPOCH` (xorriso honours
 * the variable), so the same inputs give the same bytes, the same sha256, and packer's checksum
 * pin does not move between builds.
 *
 * Also here: how the demo boots without its ISO, straight from QEMU's `-kernel` (the read-back
 * of a built disk, the accelerator probe), and the uncompressed kernel that makes it fast.
 *
 * @module
 */

import { type Failure, failure } from "../../engine/failure.ts";
import { hashFile } from "../../engine/hash.ts";
import { which } from "../../engine/tools.ts";
import {
  buildDemoInitramfs,
  findHostKernel,
  type HostKernel,
  requireTools,
  runStep,
  sourceDateEpochOf,
  toolPath,
} from "./initramfs.ts";

/** What the demo's `/init` does at boot (`kiln.mode=`). */
export type DemoMode = "install" | "readback" | "probe";

/** Where Debian's isolinux packages put the BIOS boot files. */
const ISOLINUX = {
  bin: ["/usr/lib/ISOLINUX/isolinux.bin", "isolinux"],
  mbr: ["/usr/lib/ISOLINUX/isohdpfx.bin", "isolinux"],
  ldlinux: ["/usr/lib/syslinux/modules/bios/ldlinux.c32", "syslinux-common"],
} as const;

/** xorriso in mkisofs mode: Rock Ridge and Joliet names, an isolinux El Torito boot entry. */
const XORRISO_MKISOFS = [
  [
    "-as",
    "mkisofs",
    "-quiet",
    "-J",
    "-R",
    "-c",
    "isolinux/boot.cat",
    "-b",
    "isolinux/isolinux.bin",
  ],
  ["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"],
].flat();

/** Options of {@link buildDemoIso}. */
export interface DemoIsoOptions {
  /** The value the installer writes to `/marker.txt` (`kiln.marker=`): letters, digits, `._:-`. */
  readonly marker: string;
  /** The boot menu's default entry; default `install` (`probe` gives an ISO that installs nothing). */
  readonly defaultMode?: DemoMode;
  /** A demo initramfs already built; default: build one for the ISO only. */
  readonly initramfs?: string;
  /** Default: {@link findHostKernel}. */
  readonly kernel?: HostKernel;
  /** ISO volume id; default `KILN_DEMO`. */
  readonly volumeId?: string;
  /** Every date in the ISO; default `SOURCE_DATE_EPOCH`, else the kernel's mtime. */
  readonly sourceDateEpoch?: number;
  readonly signal?: AbortSignal;
}

/** A built demo ISO. */
export interface DemoIso {
  readonly path: string;
  /** For packer's `iso_checksum` (`sha256:<hex>`). */
  readonly sha256: string;
  readonly marker: string;
  readonly defaultMode: DemoMode;
  readonly kernel: HostKernel;
}

/** The kernel command line of each boot entry (`console=ttyS0`: everything goes to serial). */
export function demoAppend(mode: DemoMode, marker: string): string {
  return `console=ttyS0,115200 quiet kiln.mode=${mode} kiln.marker=${marker}`;
}

/** isolinux.cfg: serial console, no prompt, the default entry boots after 0.1 s. */
export function isolinuxConfig(defaultMode: DemoMode, marker: string): string {
  const entries = (["install", "readback", "probe"] as const).map((mode) =>
    [
      `LABEL ${mode}`,
      "  KERNEL vmlinuz",
      `  APPEND initrd=initrd.gz ${demoAppend(mode, marker)}`,
    ].join("\n")
  );
  return ["SERIAL 0 115200", "PROMPT 0", "TIMEOUT 1", `DEFAULT ${defaultMode}`, ...entries, ""]
    .join("\n");
}

/**
 * Builds the demo installer ISO at `dest` (assembled beside it, renamed into place). Fails with
 * `tool-missing` naming the Debian package of an absent tool, `iso-build-failed` when xorriso
 * fails, `interrupted` on abort.
 *
 * @example
 * ```ts
 * const iso = await buildDemoIso("out/demo.iso", { marker: "build-42" });
 * if (!("reason" in iso)) console.log(`sha256:${iso.sha256}`);
 * ```
 */
export async function buildDemoIso(
  dest: string,
  opts: DemoIsoOptions,
): Promise<DemoIso | Failure> {
  if (!/^[A-Za-z0-9._:-]+$/.test(opts.marker)) {
    return failure(
      "iso-build-failed",
      `Marker "${opts.marker}" is not allowed on a kernel command line: use letters, digits and ._:-`,
    );
  }
  const kernel = opts.kernel ?? findHostKernel();
  if ("reason" in kernel) return kernel;
  const tools = requireTools({ xorriso: "xorriso" });
  if ("reason" in tools) return tools;
  for (const [path, pkg] of Object.values(ISOLINUX)) {
    try {
      Deno.statSync(path);
    } catch {
      return failure(
        "tool-missing",
        `File "${path}" is missing: install the Debian package "${pkg}"`,
      );
    }
  }
  const epoch = opts.sourceDateEpoch ?? sourceDateEpochOf(kernel.path);
  const defaultMode = opts.defaultMode ?? "install";
  const stage = `${dest}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const tree = `${stage}/tree`;
  try {
    Deno.mkdirSync(`${tree}/isolinux`, { recursive: true });
    const initrd = `${tree}/isolinux/initrd.gz`;
    if (opts.initramfs) {
      Deno.copyFileSync(opts.initramfs, initrd);
    } else {
      const built = await buildDemoInitramfs(initrd, {
        kernel,
        sourceDateEpoch: epoch,
        signal: opts.signal,
      });
      if ("reason" in built) return built;
    }
    Deno.copyFileSync(kernel.path, `${tree}/isolinux/vmlinuz`);
    Deno.copyFileSync(ISOLINUX.bin[0], `${tree}/isolinux/isolinux.bin`);
    Deno.copyFileSync(ISOLINUX.ldlinux[0], `${tree}/isolinux/ldlinux.c32`);
    const cfg = isolinuxConfig(defaultMode, opts.marker);
    Deno.writeTextFileSync(`${tree}/isolinux/isolinux.cfg`, cfg);
    for (const e of Deno.readDirSync(`${tree}/isolinux`)) {
      Deno.utimeSync(`${tree}/isolinux/${e.name}`, epoch, epoch);
    }
    for (const d of ["isolinux", "."]) Deno.utimeSync(`${tree}/${d}`, epoch, epoch);
    const iso = `${stage}/out.iso`;
    const volume = ["-V", opts.volumeId ?? "KILN_DEMO", "-isohybrid-mbr", ISOLINUX.mbr[0]];
    const made = await runStep(
      [tools.xorriso, ...XORRISO_MKISOFS, ...volume, "-o", iso, tree],
      "iso-build-failed",
      { env: { SOURCE_DATE_EPOCH: String(epoch) }, signal: opts.signal },
    );
    if (typeof made !== "string") return made;
    Deno.renameSync(iso, dest);
    const { digest } = await hashFile(dest);
    return { path: dest, sha256: digest, marker: opts.marker, defaultMode, kernel };
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/**
 * The serial marker that proves a demo disk holds `marker`: the whole line that
 * `kiln.mode=readback` prints (up to its newline, so a half-printed longer value cannot match).
 *
 * @example
 * ```ts
 * readbackMarker("build-42").test("KILN-READBACK build-42\n"); // true
 * readbackMarker("build-4").test("KILN-READBACK build-42\n"); // false
 * ```
 */
export function readbackMarker(marker: string): RegExp {
  return new RegExp(`^KILN-READBACK ${marker.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=\n)`, "m");
}

/**
 * How `image/validate.ts` boots a demo disk to read it back: the host kernel (or its extracted
 * `vmlinux`, see `directBootKernel`) and the demo initramfs, straight from QEMU (`-kernel`).
 */
export function readbackBoot(
  kernel: string,
  initramfs: string,
): { kernel: string; initrd: string; append: string } {
  return { kernel, initrd: initramfs, append: "console=ttyS0,115200 quiet kiln.mode=readback" };
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/**
 * The kernel to boot with QEMU's `-kernel` (no bootloader: the accelerator probe and the demo's
 * read-back): the uncompressed `vmlinux` extracted to `dest`, when the kernel is xz-compressed
 * and built with `CONFIG_PVH` (Debian's is), else the compressed kernel itself. Under TCG, the
 * kernel decompressing itself costs ~4 s of a ~7 s boot; QEMU loads an ELF with a PVH note
 * directly, so a direct boot drops to ~3 s.
 *
 * @example
 * ```ts
 * const k = await directBootKernel(kernel, "work/vmlinux"); // "work/vmlinux"
 * ```
 */
export async function directBootKernel(
  kernel: HostKernel,
  dest: string,
  opts: { signal?: AbortSignal } = {},
): Promise<string | Failure> {
  let config = "";
  try {
    config = Deno.readTextFileSync(
      `${kernel.path.replace(/vmlinuz-[^/]*$/, "")}config-${kernel.version}`,
    );
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const xz = which("xz", toolPath());
  if (!/^CONFIG_PVH=y$/m.test(config) || !xz) return kernel.path;
  const image = Deno.readFileSync(kernel.path);
  let at = image.indexOf(XZ_MAGIC[0]);
  while (at >= 0 && !XZ_MAGIC.every((b, i) => image[at + i] === b)) {
    at = image.indexOf(XZ_MAGIC[0], at + 1);
  }
  if (at < 0) return kernel.path;
  const tmp = `${dest}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.writeFileSync(`${tmp}.xz`, image.subarray(at));
    // --single-stream: the payload is followed by the rest of the bzImage, which xz ignores.
    const done = await runStep(
      [xz, "-d", "-q", "--single-stream", `${tmp}.xz`],
      "initramfs-failed",
      {
        signal: opts.signal,
      },
    );
    if (typeof done !== "string") return done;
    const head = new Uint8Array(4);
    using f = Deno.openSync(tmp);
    f.readSync(head);
    if (head.join() !== "127,69,76,70") return kernel.path; // not an ELF after all
    Deno.renameSync(tmp, dest);
    return dest;
  } finally {
    for (const f of [tmp, `${tmp}.xz`]) await Deno.remove(f).catch(() => {});
  }
}
