/**
 * Download progress for people: bytes, rate and ETA. On a terminal one line is redrawn in place
 * (`\r`, at most ten times a second); elsewhere (CI logs, a task's log file) a plain line is
 * printed every few seconds, so a log shows a stalled download without filling up.
 *
 * The formatting functions are pure and tested on their own; {@link progressReporter} only
 * decides when to draw, against an injectable clock.
 *
 * @module
 */

/** What {@link fetchFile} reports as a download advances. */
export interface FetchProgress {
  /** The URL being downloaded. */
  readonly url: string;
  /** Bytes of the file received so far, a resumed prefix included. */
  readonly received: number;
  /** The file's size when the server said it, else `null`. */
  readonly total: number | null;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * A byte count in binary units, three significant digits from KiB up.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.50 KiB"
 * formatBytes(2 * 1024 ** 3); // "2.00 GiB"
 * ```
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "? B";
  if (n < 1024) return `${Math.round(n)} B`;
  let u = 0;
  let v = n;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.9 KiB rounds to "1024 KiB" with 0 decimals; keep three significant digits below that
  const text = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text} ${UNITS[u]}`;
}

/** A transfer rate, e.g. `"85.3 MiB/s"`; `"--/s"` when unknown. */
export function formatRate(bytesPerSecond: number | null): string {
  return bytesPerSecond === null || !Number.isFinite(bytesPerSecond)
    ? "--/s"
    : `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * Remaining time as `m:ss` or `h:mm:ss`; `"--:--"` when unknown or absurd (over 99 hours).
 *
 * @example
 * ```ts
 * formatEta(65); // "1:05"
 * formatEta(3723); // "1:02:03"
 * ```
 */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0 || seconds > 99 * 3600) {
    return "--:--";
  }
  const s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** What one progress line shows. */
export interface ProgressLine {
  readonly label: string;
  readonly received: number;
  readonly total: number | null;
  /** Bytes per second, `null` before there is a measurement. */
  readonly rate: number | null;
  /** Terminal width; the bar takes what the text leaves (none below 10 columns). */
  readonly width?: number;
}

/**
 * One line of progress. With a known total: label, percentage, a bar when `width` leaves room,
 * bytes, rate and ETA; without: label, bytes and rate.
 *
 * @example
 * ```ts
 * formatProgressLine({ label: "debian.iso", received: 512 * 1024 ** 2, total: 1024 ** 3,
 *   rate: 64 * 1024 ** 2 });
 * // "debian.iso  50% 512 MiB / 1.00 GiB  64.0 MiB/s  ETA 0:08"
 * ```
 */
export function formatProgressLine(p: ProgressLine): string {
  const rate = formatRate(p.rate);
  if (p.total === null || p.total <= 0) {
    return `${p.label}  ${formatBytes(p.received)}  ${rate}`;
  }
  const fraction = Math.min(1, Math.max(0, p.received / p.total));
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = p.rate && p.rate > 0 ? (p.total - p.received) / p.rate : null;
  const tail = `${formatBytes(p.received)} / ${formatBytes(p.total)}  ${rate}  ETA ${
    formatEta(eta)
  }`;
  const head = `${p.label} ${pct}`;
  // the line fills `width - 1` columns (the last one would wrap some terminals)
  const room = (p.width ?? 0) - 1 - head.length - tail.length - 5; // " [", "]  "
  if (room < 10) return `${head} ${tail}`;
  const filled = Math.round(fraction * room);
  return `${head} [${"#".repeat(filled)}${".".repeat(room - filled)}]  ${tail}`;
}

/**
 * The rate over a sliding window of samples (default 5 s), so that the ETA follows the recent
 * speed rather than the average since the start, without jumping on every sample.
 */
export class RateMeter {
  #samples: { t: number; bytes: number }[] = [];
  readonly #windowMs: number;

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** Records that `bytes` had arrived in total at time `t` (ms). A drop restarts the window. */
  add(t: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last && bytes < last.bytes) this.#samples = [];
    this.#samples.push({ t, bytes });
    // keep one sample at or before the window's start, so the window stays full
    while (this.#samples.length > 2 && this.#samples[1].t <= t - this.#windowMs) {
      this.#samples.shift();
    }
  }

  /** Bytes per second over the window; `null` with less than 100 ms of samples. */
  rate(): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.t - first.t < 100) return null;
    return (last.bytes - first.bytes) / ((last.t - first.t) / 1000);
  }
}

/** Where the reporter draws: a terminal (redrawn in place) or a log (plain lines). */
export interface ProgressOutput {
  readonly isTerminal: boolean;
  write(text: string): void;
  /** Terminal width, when known. */
  columns?(): number | undefined;
}

/** Options of {@link progressReporter}. */
export interface ProgressReporterOptions {
  /** What is downloading, e.g. the ISO's file name. */
  readonly label: string;
  /** Default: standard error. */
  readonly out?: ProgressOutput;
  /** Milliseconds clock; default `performance.now`. */
  readonly now?: () => number;
  /** Least time between redraws on a terminal (default 100 ms). */
  readonly ttyIntervalMs?: number;
  /** Time between plain lines (default 5 s). */
  readonly plainIntervalMs?: number;
}

/** Receives {@link FetchProgress} updates and draws them; `done()` draws the last state. */
export interface ProgressReporter {
  update(p: FetchProgress): void;
  /** Ends the line (terminal) or prints a summary (plain). */
  done(): void;
}

/** Standard error as a {@link ProgressOutput}. */
export function stderrOutput(): ProgressOutput {
  const encoder = new TextEncoder();
  return {
    isTerminal: Deno.stderr.isTerminal(),
    write: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * A throttled progress renderer for {@link fetchFile}'s `onProgress`.
 *
 * @example
 * ```ts
 * const progress = progressReporter({ label: "debian-12.iso" });
 * const r = await fetchFile({ urls, dest, onProgress: (p) => progress.update(p) });
 * progress.done();
 * ```
 */
export function progressReporter(o: ProgressReporterOptions): ProgressReporter {
  const out = o.out ?? stderrOutput();
  const now = o.now ?? (() => performance.now());
  const interval = out.isTerminal ? (o.ttyIntervalMs ?? 100) : (o.plainIntervalMs ?? 5000);
  const meter = new RateMeter();
  const start = now();
  let lastDraw = -Infinity;
  let latest: FetchProgress | null = null;
  let firstReceived: number | null = null;

  const line = (p: FetchProgress) =>
    formatProgressLine({
      label: o.label,
      received: p.received,
      total: p.total,
      rate: meter.rate(),
      width: out.isTerminal ? out.columns?.() : undefined,
    });
  const draw = (p: FetchProgress) => {
    if (out.isTerminal) out.write(`\r${line(p)}\x1b[K`);
    else out.write(`${line(p)}\n`);
  };

  return {
    update(p) {
      const t = now();
      meter.add(t, p.received);
      firstReceived ??= p.received;
      latest = p;
      if (t - lastDraw < interval) return;
      lastDraw = t;
      draw(p);
    },
    done() {
      if (!latest) return;
      if (out.isTerminal) {
        draw(latest);
        out.write("\n");
        return;
      }
      const seconds = (now() - start) / 1000;
      const got = latest.received - (firstReceived ?? 0);
      const rate = seconds > 0 ? formatRate(got / seconds) : formatRate(null);
      out.write(
        `${o.label}: ${formatBytes(latest.received)} in ${seconds.toFixed(1)} s (${rate})\n`,
      );
    },
  };
}
