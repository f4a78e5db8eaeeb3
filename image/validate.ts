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
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { killTree } from "../builders/local.ts";
import { which } from "../engine/tools.ts";
import { SerialWatcher } from "./serial_watch.ts";

/** A QEMU accelerator (see `builders/accel_probe.ts` for which one works here). */
export type Accelerator = "kvm" | "tcg" | "hvf";

/** Boot a kernel directly (`-kernel`), skipping firmware and bootloader. */
export interface DirectBoot {
  readonly kernel: string;
  readonly initrd: string;
  /** The kernel command line; include `console=ttyS0` so the marker reaches the serial log. */
  readonly append: string;
}

/** What {@link qemuArgv} builds a command line from. */
export interface QemuSpec {
  /** Default `qemu-system-x86_64`. */
  readonly qemu?: string;
  readonly accelerator: Accelerator;
  readonly serialLog: string;
  /** MiB; default 512. */
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly boot?: DirectBoot;
  /** A qcow2 disk, attached with `-snapshot` (and read-only where the interface allows it). */
  readonly disk?: string;
  /** Default `virtio`. */
  readonly diskInterface?: "virtio" | "ide";
}

/**
 * The QEMU command line of a headless validation boot: no default devices, no display, no
 * network, no reboot (a guest reboot ends QEMU), serial console into `serialLog`.
 *
 * @example
 * ```ts
 * qemuArgv({ accelerator: "tcg", serialLog: "/w/serial.log", disk: "/w/demo.qcow2" });
 * // ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", ..., "-snapshot"]
 * ```
 */
export function qemuArgv(spec: QemuSpec): string[] {
  const argv = [
    spec.qemu ?? "qemu-system-x86_64",
    ["-accel", spec.accelerator],
    ["-m", String(spec.memoryMiB ?? 512), "-smp", String(spec.cpus ?? 1)],
    ["-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none"],
    ["-serial", `file:${spec.serialLog}`],
  ].flat();
  if (spec.boot) {
    argv.push(
      "-kernel",
      spec.boot.kernel,
      "-initrd",
      spec.boot.initrd,
      "-append",
      spec.boot.append,
    );
  }
  if (spec.disk) {
    const iface = spec.diskInterface ?? "virtio";
    const ro = iface === "virtio" ? ",readonly=on" : ""; // IDE cannot be read-only
    const file = spec.disk.replaceAll(",", ",,");
    argv.push("-drive", `file=${file},format=qcow2,if=${iface}${ro}`, "-snapshot");
  }
  return argv;
}

/** Options of {@link bootUntilMarker}. */
export interface BootWatchOptions {
  /** The QEMU command, from {@link qemuArgv}. */
  readonly argv: readonly string[];
  /** The file QEMU's `-serial file:` writes (replaced at start, kept after). */
  readonly serialLog: string;
  readonly marker: RegExp;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** How often the serial log is read (default 50 ms). */
  readonly pollMs?: number;
  /** Quiet time after which an unfinished line may match, e.g. a prompt (default 500 ms). */
  readonly idleMs?: number;
}

/** How a watched boot ended. */
export type BootOutcome =
  | { readonly outcome: "marker"; readonly match: string; readonly ms: number }
  | {
    readonly outcome: "timeout" | "exited" | "interrupted";
    readonly ms: number;
    /** QEMU's exit when it ended by itself. */
    readonly exit: { readonly code: number; readonly signal: string | null } | null;
    /** The serial console's last lines, cleaned. */
    readonly lastLines: readonly string[];
    /** QEMU's own last line of output (an error such as a missing file), if any. */
    readonly qemuSaid: string | null;
  };

/** How long QEMU gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * Starts QEMU and watches its serial log until `marker` appears, QEMU exits, `timeoutMs`
 * passes or `signal` aborts; then kills QEMU and waits until it is gone. Reports; never fails:
 * the caller decides what an outcome means (a failed validation, an unusable accelerator).
 */
export async function bootUntilMarker(o: BootWatchOptions): Promise<BootOutcome> {
  if (o.signal?.aborted) {
    return { outcome: "interrupted", ms: 0, exit: null, lastLines: [], qemuSaid: null };
  }
  await Deno.remove(o.serialLog).catch(() => {});
  const watcher = new SerialWatcher(o.marker);
  const t0 = performance.now();
  const child = new Deno.Command(o.argv[0], {
    args: o.argv.slice(1),
    cwd: o.serialLog.slice(0, o.serialLog.lastIndexOf("/")) || "/",
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exit: Deno.CommandOutput | null = null;
  const done = child.output().then((r) => exit = r);
  let offset = 0;
  let quietSince = t0;
  let outcome: "marker" | "timeout" | "exited" | "interrupted";
  try {
    for (;;) {
      const ended = exit !== null;
      const got = readFrom(o.serialLog, offset);
      offset += got.length;
      const now = performance.now();
      if (got.length) quietSince = now;
      if (watcher.push(got)) outcome = "marker";
      else if (now - quietSince >= (o.idleMs ?? 500) && watcher.idle()) outcome = "marker";
      else if (o.signal?.aborted) outcome = "interrupted";
      else if (ended) outcome = watcher.end() ? "marker" : "exited";
      else if (now - t0 >= o.timeoutMs) outcome = "timeout";
      else {
        await new Promise((r) => setTimeout(r, o.pollMs ?? 50));
        continue;
      }
      break;
    }
  } finally {
    if (exit === null) {
      killTree(child.pid, "SIGTERM");
      const timer = setTimeout(() => killTree(child.pid, "SIGKILL"), KILL_GRACE_MS);
      await done;
      clearTimeout(timer);
    }
  }
  const ms = Math.round(performance.now() - t0);
  if (outcome === "marker") return { outcome, match: watcher.match![0], ms };
  const r = (await done) as Deno.CommandOutput;
  const qemuSaid = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1) || null;
  return {
    outcome,
    ms,
    exit: outcome === "exited" ? { code: r.code, signal: r.signal } : null,
    lastLines: watcher.lastLines(),
    qemuSaid,
  };
}

/** The bytes of `path` from `offset` to its current end (none when it does not exist yet). */
function readFrom(path: string, offset: number): Uint8Array {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Uint8Array(0);
    throw e;
  }
  try {
    const size = f.statSync().size;
    if (size <= offset) return new Uint8Array(0);
    const buf = new Uint8Array(size - offset);
    f.seekSync(offset, Deno.SeekMode.Start);
    let n = 0;
    while (n < buf.length) {
      const r = f.readSync(buf.subarray(n));
      if (!r) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    f.close();
  }
}

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
  const r = await new Deno.Command(qemuImg, {
    args: ["check", "-f", "qcow2", "--output=json", image],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: opts.signal,
  }).output();
  if (opts.signal?.aborted) {
    return failure("interrupted", `Check of image "${image}" was interrupted`);
  }
  const dec = new TextDecoder();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(dec.decode(r.stdout));
  } catch { /* no report: the check did not complete */ }
  const check: ImageCheck = {
    format: String(json["format"] ?? "unknown"),
    checkErrors: Number(json["check-errors"] ?? 0),
    corruptions: Number(json["corruptions"] ?? 0),
    leaks: Number(json["leaks"] ?? 0),
  };
  // Exit 0: clean; 3: leaked clusters only. 1: not checked (not a qcow2); 2: corrupt.
  if (check.corruptions > 0 || check.checkErrors > 0 || (r.code !== 0 && r.code !== 3)) {
    const lines = dec.decode(r.stderr).trim().split("\n");
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
