/**
 * Reads `packer build -machine-readable` output: the pure half of `run.ts`, testable with lines
 * captured from a real packer.
 *
 * Each line is `timestamp,target,type,data...`. Packer writes a comma inside data as
 * `%!(PACKER_COMMA)` and a newline as a literal `\n`, so splitting on `,` is safe. What kiln
 * needs from it:
 * - progress: `ui,say` lines such as `==> qemu.demo: Waiting for shutdown...` (a step starts)
 *   and `ui,message` lines (details);
 * - errors: `ui,error` lines and the final `<target>,error,<message>` of a failed build;
 * - artifacts: `<target>,artifact,<i>,file,<j>,<path>`, `files-count`, `id`, closed by `end`.
 *
 * @example
 * ```ts
 * const p = new MachineReadableParser();
 * p.push("1795248471,,ui,say,==> qemu.demo: Waiting for shutdown...\n");
 * // [{ kind: "step", time: 1795248471, target: "qemu.demo", text: "Waiting for shutdown..." }]
 * ```
 *
 * @module
 */

/** One machine-readable line, its data fields unescaped. */
export interface MachineLine {
  /** Unix seconds. */
  readonly time: number;
  /** The build (`qemu.demo`), or empty for packer-wide lines. */
  readonly target: string;
  readonly type: string;
  readonly data: readonly string[];
}

/** An artifact a build produced. */
export interface PackerArtifact {
  readonly target: string;
  readonly index: number;
  readonly builderId?: string;
  readonly id?: string;
  readonly files: readonly string[];
}

/** What a machine-readable stream says, as events. */
export type PackerEvent =
  /** `==> <target>: <text>`: packer starts a step. */
  | { readonly kind: "step"; readonly time: number; readonly target: string; readonly text: string }
  /** Any other `ui,say` or `ui,message` text. */
  | { readonly kind: "message"; readonly time: number; readonly text: string }
  /** `ui,error`, or a build's final `error` line (`final: true`). */
  | {
    readonly kind: "error";
    readonly time: number;
    readonly target: string;
    readonly text: string;
    readonly final: boolean;
  }
  /** An artifact, complete (emitted at its `end` line). */
  | { readonly kind: "artifact"; readonly time: number; readonly artifact: PackerArtifact }
  /** A line that is not machine-readable (packer's stderr, a crash). */
  | { readonly kind: "raw"; readonly text: string };

/** Undoes packer's escaping of one data field. */
export function unescapeField(field: string): string {
  return field.replaceAll("%!(PACKER_COMMA)", ",").replaceAll("\\n", "\n").replaceAll("\\r", "\r");
}

const LINE = /^(\d+),([^,]*),([^,]+)(?:,(.*))?$/s;

/**
 * Parses one line (without its newline); null when it is not machine-readable.
 *
 * @example
 * ```ts
 * parseMachineLine("1795248482,qemu.demo,artifact,0,file,0,/out/demo.qcow2");
 * // { time: 1795248482, target: "qemu.demo", type: "artifact", data: ["0", "file", "0", "/out/demo.qcow2"] }
 * ```
 */
export function parseMachineLine(line: string): MachineLine | null {
  const m = line.match(LINE);
  if (!m) return null;
  const data = m[4] === undefined ? [] : m[4].split(",").map(unescapeField);
  return { time: Number(m[1]), target: m[2], type: m[3], data };
}

/** `==> qemu.demo: text` -> target and text (also `--> ` and a leading newline). */
const STEP = /^\n*(?:==>|-->) ([^\s:]+): (.*)$/s;

/**
 * Turns a stream of machine-readable output into {@link PackerEvent}s and keeps what a caller
 * asks at the end: the current step, the errors, the artifacts. Feed it chunks of any size.
 */
export class MachineReadableParser {
  #rest = "";
  #artifacts = new Map<string, { builderId?: string; id?: string; files: string[] }>();
  readonly #done: PackerArtifact[] = [];
  readonly #errors: { text: string; final: boolean }[] = [];
  #step: string | null = null;
  #lastRaw: string | null = null;

  /** Feeds a chunk; returns the events of the lines it completed. */
  push(chunk: string): PackerEvent[] {
    const text = this.#rest + chunk;
    const lines = text.split("\n");
    this.#rest = lines.pop()!;
    return lines.flatMap((l) => this.#line(l));
  }

  /** The output has ended: parses an unterminated last line. */
  end(): PackerEvent[] {
    const rest = this.#rest;
    this.#rest = "";
    return rest ? this.#line(rest) : [];
  }

  /** The text of the last step started (`Waiting for shutdown...`), if any. */
  get step(): string | null {
    return this.#step;
  }

  /** Every artifact completed, in order. */
  get artifacts(): readonly PackerArtifact[] {
    return this.#done;
  }

  /** Every error text, in order. */
  get errors(): readonly string[] {
    return this.#errors.map((e) => e.text);
  }

  /**
   * The error that explains a failed build, on one line: the last final `error` line (the
   * build's own failure), else the last `ui,error`, else the last non-machine-readable line.
   */
  lastError(): string | null {
    const final = this.#errors.findLast((e) => e.final) ?? this.#errors.at(-1);
    const text = final?.text ?? this.#lastRaw;
    if (text === null) return null;
    return text.split("\n").map((l) => l.replace(STEP, "$2").trim()).filter((l) => l).join(" ");
  }

  #line(raw: string): PackerEvent[] {
    const line = raw.replace(/\r$/, "");
    if (!line.trim()) return [];
    const m = parseMachineLine(line);
    if (!m) {
      this.#lastRaw = line;
      return [{ kind: "raw", text: line }];
    }
    if (m.type === "ui") return this.#ui(m);
    if (m.type === "error") {
      const text = m.data.join(",");
      this.#errors.push({ text, final: true });
      return [{ kind: "error", time: m.time, target: m.target, text, final: true }];
    }
    if (m.type === "artifact") return this.#artifact(m);
    return [];
  }

  #ui(m: MachineLine): PackerEvent[] {
    const [level, ...rest] = m.data;
    const text = rest.join(",");
    if (level === "error") {
      const target = text.match(STEP)?.[1] ?? m.target;
      this.#errors.push({ text, final: false });
      return [{ kind: "error", time: m.time, target, text, final: false }];
    }
    const step = level === "say" ? text.match(/^(?:==>) ([^\s:]+): (.*)$/s) : null;
    if (step) {
      this.#step = step[2];
      return [{ kind: "step", time: m.time, target: step[1], text: step[2] }];
    }
    return [{ kind: "message", time: m.time, text: text.replace(/^\n+/, "") }];
  }

  #artifact(m: MachineLine): PackerEvent[] {
    const [index, field, ...values] = m.data;
    const key = `${m.target}\0${index}`;
    let a = this.#artifacts.get(key);
    if (!a) this.#artifacts.set(key, a = { files: [] });
    if (field === "builder-id") a.builderId = values.join(",");
    else if (field === "id") a.id = values.join(",");
    else if (field === "file") a.files.push(values.slice(1).join(","));
    else if (field === "end") {
      this.#artifacts.delete(key);
      const artifact: PackerArtifact = { target: m.target, index: Number(index), ...a };
      this.#done.push(artifact);
      return [{ kind: "artifact", time: m.time, artifact }];
    }
    return [];
  }
}
