/**
 * Validates a built disk image: the file is a sound qcow2 (`qemu-img check`), and a VM booted
 * from it prints a success marker on its serial console within a time limit. A green packer
 * build only says the installer exited; this says the image holds a system that boots.
 *
 * Two ways to boot: the disk itself (real distributions; the marker is typically a login
 * prompt), or a given kernel and initramfs with the disk attached (the demo distro, whose
 * read-back mode prints the file its installer wrote). The disk is always attached with
 * `-snapshot`: validation never changes the image.
 *
 * QEMU is killed on success, on timeout and on abort, and reaped before a call returns (no
 * QEMU outlives it); the serial log stays on disk either way.
 *
 * The QEMU command line and the boot watcher are `boot.ts`; this module decides what a boot means
 * for an image.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { which } from "../engine/tools.ts";
import { type Accelerator, bootUntilMarker, type DirectBoot, qemuArgv } from "./boot.ts";
import { qemuImg as runQemuImg } from "./qemu_img.ts";

export {
  type Accelerator,
  type BootOutcome,
  bootUntilMarker,
  type BootWatchOptions,
  type DirectBoot,
  qemuArgv,
  type QemuSpec,
} from "./boot.ts";

/** What `qemu-img check` found. */
export interface ImageCheck {
  readonly format: string;
  readonly checkErrors: number;
  readonly corruptions: number;
  /** Leaked clusters waste space but lose no data: reported, not a failure. */
  readonly leaks: number;
}

/**
 * Runs `qemu-img check -f qcow2 --output=json` on `image`: fails with `image-corrupt` on
 * corruptions or when the check cannot complete (not a qcow2, truncated), `missing-input` when
 * the file is absent, `tool-missing` without qemu-img.
 */
export async function checkImage(
  image: string,
  opts: { qemuImg?: string; signal?: AbortSignal } = {},
): Promise<ImageCheck | Failure> {
  try {
    Deno.statSync(image);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return failure("missing-input", `Image "${image}" does not exist: build it first`);
  }
  const qemuImg = opts.qemuImg ?? which("qemu-img");
  if (!qemuImg) {
    return failure(
      "tool-missing",
      `Tool "qemu-img" is not installed: install the Debian package "qemu-utils"`,
    );
  }
  const r = await runQemuImg(
    qemuImg,
    ["check", "-f", "qcow2", "--output=json", image],
    opts.signal,
  );
  if (opts.signal?.aborted) {
    return failure("interrupted", `Check of image "${image}" was interrupted`);
  }
  if ("reason" in r) return r;
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout);
  } catch { /* no report: the check did not complete */ }
  const check: ImageCheck = {
    format: String(json["format"] ?? "unknown"),
    checkErrors: Number(json["check-errors"] ?? 0),
    corruptions: Number(json["corruptions"] ?? 0),
    leaks: Number(json["leaks"] ?? 0),
  };
  // Exit 0: clean; 3: leaked clusters only. 1: not checked (not a qcow2); 2: corrupt.
  if (check.corruptions > 0 || check.checkErrors > 0 || (r.code !== 0 && r.code !== 3)) {
    const lines = r.stderr.trim().split("\n");
    const said = lines.find((l) => l.startsWith("ERROR")) ?? lines.at(-1) ?? "";
    return failure(
      "image-corrupt",
      `Image "${image}" failed qemu-img check (exit ${r.code}, ${check.corruptions} corruptions` +
        `${said ? `: "${said}"` : ""}): rebuild it`,
    );
  }
  return check;
}

/** Options of {@link validateImage}. */
export interface ValidateOptions {
  /** The qcow2 image to validate. */
  readonly image: string;
  /** Where the VM's serial console is written; kept, and named in a failure. */
  readonly serialLog: string;
  /** What a good boot prints, e.g. `/login: $/` or the demo's `readbackMarker(...)`. */
  readonly marker: RegExp;
  readonly accelerator: Accelerator;
  /** Default 300 s (a real distribution under TCG). */
  readonly timeoutMs?: number;
  /** Boot this kernel with the disk attached; default: boot the disk itself. */
  readonly boot?: DirectBoot;
  readonly diskInterface?: "virtio" | "ide";
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly qemu?: string;
  readonly qemuImg?: string;
  readonly signal?: AbortSignal;
}

/** A validated image. */
export interface ValidateResult {
  readonly check: ImageCheck;
  /** The text the marker matched. */
  readonly matched: string;
  readonly bootMs: number;
  readonly serialLog: string;
}

/**
 * Checks `image` and boots it until `marker` appears. Fails with `image-corrupt` (see
 * {@link checkImage}), `image-boot-failed` when the VM times out or stops without the marker
 * (the message names the serial log and quotes its last lines), `interrupted` on abort.
 *
 * @example
 * ```ts
 * const r = await validateImage({
 *   image: "out/demo.qcow2", serialLog: "out/validate.log", accelerator: "tcg",
 *   boot: readbackBoot(vmlinux, initrd), marker: readbackMarker("build-42"), timeoutMs: 60_000,
 * });
 * ```
 */
export async function validateImage(o: ValidateOptions): Promise<ValidateResult | Failure> {
  const check = await checkImage(o.image, o);
  if ("reason" in check) return check;
  const qemu = o.qemu ?? which("qemu-system-x86_64");
  if (!qemu) {
    return failure(
      "tool-missing",
      `Tool "qemu-system-x86_64" is not installed: install the Debian package "qemu-system-x86"`,
    );
  }
  await Deno.mkdir(o.serialLog.slice(0, o.serialLog.lastIndexOf("/")) || "/", { recursive: true });
  const timeoutMs = o.timeoutMs ?? 300_000;
  const argv = qemuArgv({ ...o, qemu, disk: o.image });
  const r = await bootUntilMarker({ ...o, argv, timeoutMs });
  if (r.outcome === "marker") {
    return { check, matched: r.match, bootMs: r.ms, serialLog: o.serialLog };
  }
  if (r.outcome === "interrupted") {
    return failure("interrupted", `Boot of image "${o.image}" was interrupted`);
  }
  const how = r.outcome === "timeout"
    ? `printed no ${o.marker} within ${Math.round(timeoutMs / 1000)} s`
    : `stopped after ${(r.ms / 1000).toFixed(1)} s without printing ${o.marker}` +
      (r.exit?.code ? ` (QEMU exit ${r.exit.code}${r.qemuSaid ? `: "${r.qemuSaid}"` : ""})` : "");
  const tail = r.lastLines.slice(-3).join(" | ");
  const log = tail ? `ends with "${tail}"` : "is empty";
  return failure(
    "image-boot-failed",
    `Image "${o.image}" ${how}; serial log "${o.serialLog}" ${log}`,
  );
}
