/**
 * Watches a VM's serial console for a success marker: the pure half of `validate.ts`, fed the
 * bytes QEMU writes, in whatever chunks they arrive, and testable without QEMU.
 *
 * A serial console is noisy: firmware and installers paint with ANSI escape sequences, lines end
 * in `\r\n`, a chunk boundary can fall inside a marker, a UTF-8 character or an escape sequence.
 * The watcher strips the noise (complete escape sequences, `\r`, other control characters),
 * holds back an escape sequence cut by a chunk boundary, and matches over a sliding window of the
 * recent text, so a marker split across chunks is found.
 *
 * It tests complete lines as they arrive; the unfinished last line only when the console has
 * gone quiet ({@link SerialWatcher.idle}) or ended ({@link SerialWatcher.end}). A prompt such as
 * `login: ` never gets its newline, while a line still being printed must not match early: an
 * open-ended regex would otherwise accept `KILN-READBACK ab` of `KILN-READBACK abc`.
 *
 * @example
 * ```ts
 * const w = new SerialWatcher(/KILN-INSTALL-OK (\S+)\n/);
 * w.push("...KILN-INST");
 * w.push("ALL-OK build-7\r\n")?.[1]; // "build-7"
 * ```
 *
 * @module
 */

/** Longest escape sequence held back across a chunk boundary (a longer one is cleaned as is). */
const MAX_PENDING_ESCAPE = 64;

/** Complete escape sequences: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`), charset, 2-byte. */
const ESCAPES =
  // deno-lint-ignore no-control-regex -- matching terminal control sequences is the point
  /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+#][ -~]|[ -/]*[0-~])/g;

/** An escape sequence still open at the end of a chunk (finished by the next one). */
// deno-lint-ignore no-control-regex
const OPEN_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+#]|[ -/]*)?$/;

/** Control characters other than newline and tab, once escape sequences are gone. */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/**
 * Removes terminal noise from serial text: complete ANSI escape sequences, carriage returns and
 * other control characters (newlines and tabs stay).
 *
 * @example
 * ```ts
 * cleanSerialText("\x1b[2J\x1b[1;1HISOLINUX\r\n"); // "ISOLINUX\n"
 * ```
 */
export function cleanSerialText(text: string): string {
  return text.replace(ESCAPES, "").replace(CONTROLS, "");
}

/** Options of {@link SerialWatcher}. */
export interface SerialWatchOptions {
  /** Characters of recent text a match may span (default 8192). */
  readonly window?: number;
  /** Complete lines kept for {@link SerialWatcher.lastLines} (default 20). */
  readonly keepLines?: number;
}

/** Finds a marker in a serial console's output; see the module documentation. */
export class SerialWatcher {
  readonly #marker: RegExp;
  readonly #window: number;
  readonly #keepLines: number;
  readonly #decoder = new TextDecoder();
  #pending = "";
  #text = "";
  #lines: string[] = [];
  #match: RegExpExecArray | null = null;
  #bytes = 0;

  constructor(marker: RegExp, opts: SerialWatchOptions = {}) {
    // A copy without g/y: exec() must not carry lastIndex state between calls.
    this.#marker = new RegExp(marker.source, marker.flags.replace(/[gy]/g, ""));
    this.#window = opts.window ?? 8192;
    this.#keepLines = opts.keepLines ?? 20;
  }

  /** The match, once the marker has been seen (it stays found). */
  get match(): RegExpExecArray | null {
    return this.#match;
  }

  /** Bytes fed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Feeds the next chunk; returns the match once the marker is found in complete lines. */
  push(chunk: Uint8Array | string): RegExpExecArray | null {
    if (typeof chunk === "string") this.#add(chunk);
    else {
      this.#bytes += chunk.length;
      this.#add(this.#decoder.decode(chunk, { stream: true }));
    }
    return this.#test(false);
  }

  /** The console has gone quiet: also test the unfinished last line (a prompt). */
  idle(): RegExpExecArray | null {
    return this.#test(true);
  }

  /** The console has ended (the VM exited): flushes what was held back and tests everything. */
  end(): RegExpExecArray | null {
    this.#add(this.#decoder.decode());
    if (this.#pending) this.#append(cleanSerialText(this.#pending));
    this.#pending = "";
    return this.#test(true);
  }

  /** The last `n` lines seen, cleaned, the unfinished one included: for failure messages. */
  lastLines(n = this.#keepLines): string[] {
    const partial = this.#text.slice(this.#text.lastIndexOf("\n") + 1);
    const lines = partial ? [...this.#lines, partial] : this.#lines;
    return lines.slice(-n);
  }

  #add(raw: string): void {
    let text = this.#pending + raw;
    this.#pending = "";
    const open = text.match(OPEN_ESCAPE);
    if (open && open[0].length <= MAX_PENDING_ESCAPE) {
      this.#pending = open[0];
      text = text.slice(0, open.index);
    }
    this.#append(cleanSerialText(text));
  }

  #append(clean: string): void {
    if (!clean) return;
    const partial = this.#text.slice(this.#text.lastIndexOf("\n") + 1);
    const done = (partial + clean).split("\n");
    done.pop();
    if (done.length) {
      this.#lines.push(...done);
      if (this.#lines.length > this.#keepLines) {
        this.#lines.splice(0, this.#lines.length - this.#keepLines);
      }
    }
    this.#text += clean;
    if (this.#text.length > 2 * this.#window) this.#text = this.#text.slice(-this.#window);
  }

  #test(partialToo: boolean): RegExpExecArray | null {
    if (this.#match) return this.#match;
    const text = partialToo ? this.#text : this.#text.slice(0, this.#text.lastIndexOf("\n") + 1);
    this.#match = this.#marker.exec(text.length > this.#window ? text.slice(-this.#window) : text);
    return this.#match;
  }
}
