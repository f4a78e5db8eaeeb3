/**
 * Booting a VM and watching its serial console: the QEMU command line of a headless boot
 * ({@link qemuArgv}) and {@link bootUntilMarker}, which starts QEMU, waits for a marker, an exit,
 * a timeout or an abort, and always kills and reaps QEMU before it returns. Kept apart from
 * `validate.ts` because it only reports how a boot ended: `validate.ts` decides that a boot
 * validates an image, `builders/accel_probe.ts` that an accelerator works.
 *
 * @module
 */

import { killTree } from "../builders/local.ts";
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
