/**
 * Which packer is installed, and what that version needs before it can build kiln's templates.
 *
 * Packer changed how builders are found twice, and a template cannot serve every version alone:
 * - before 1.7 the qemu builder is compiled in and a `packer { required_plugins {...} }` block is
 *   a syntax error ("Blocks of type "required_plugins" are not expected here");
 * - from 1.7 `required_plugins` and `packer init` exist (the qemu builder is still bundled);
 * - from 1.10 the qemu builder is an external plugin (`github.com/hashicorp/qemu`) that must be
 *   declared in `required_plugins` and installed by `packer init`.
 *
 * So the templates carry no `packer {}` block; {@link planFor} says whether `templates.ts` adds
 * one (`plugins.pkr.hcl`, from {@link pluginsHcl}) and runs `packer init` for this version.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/** A packer release, as printed by `packer version`. */
export interface PackerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The part after `-` in `1.10.0-dev`; empty for a release. */
  readonly prerelease: string;
  /** `major.minor.patch[-prerelease]`, the form kept in image metadata. */
  readonly text: string;
}

/** The oldest packer kiln's templates are checked against (Debian 12's and Ubuntu 22.04's). */
export const MIN_PACKER = "1.6.6";

/** The qemu plugin that packer >= 1.10 needs declared: where `packer init` fetches it, and which. */
export const QEMU_PLUGIN = { source: "github.com/hashicorp/qemu", version: ">= 1.1.0" } as const;

/** What a packer version needs to build a kiln template. */
export interface PackerPlan {
  readonly version: PackerVersion;
  /** The qemu builder is compiled into this packer (true before 1.10). */
  readonly qemuBuiltIn: boolean;
  /** Write `plugins.pkr.hcl` (the `required_plugins` block) beside the template. */
  readonly requiredPlugins: boolean;
  /** Run `packer init <folder>` before `validate` or `build`: it installs the declared plugin. */
  readonly init: boolean;
}

const VERSION_LINE =
  /^(?:Packer\s+)?v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?(?:\s|\(|$)/;

/**
 * Parses the output of `packer version` (`Packer v1.6.6`; newer ones add lines such as "Your
 * version of Packer is out of date!") or of `packer --version` (`1.6.6`). Returns null when the
 * first non-empty line holds no version.
 *
 * @example
 * ```ts
 * parsePackerVersion("Packer v1.11.2\n\nYour version of Packer is out of date!")?.text; // "1.11.2"
 * ```
 */
export function parsePackerVersion(output: string): PackerVersion | null {
  const line = output.split("\n").map((l) => l.trim()).find((l) => l !== "");
  const m = line?.match(VERSION_LINE);
  if (!m) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const prerelease = m[4] ?? "";
  const text = `${major}.${minor}.${patch}${prerelease ? `-${prerelease}` : ""}`;
  return { major, minor, patch, prerelease, text };
}

/**
 * Orders two versions by major, minor, patch (a prerelease counts as its release: a `1.10.0-dev`
 * already behaves like 1.10). Negative when `a` is older.
 */
export function compareVersions(a: PackerVersion, b: PackerVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function atLeast(v: PackerVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * The decision table: what `version` needs (see the module comment for why).
 *
 * | packer      | qemu builder | plugins.pkr.hcl | packer init |
 * | ----------- | ------------ | --------------- | ----------- |
 * | 1.6.x       | built in     | no (rejected)   | no (absent) |
 * | 1.7 - 1.9   | built in     | yes             | yes         |
 * | >= 1.10     | plugin       | yes (required)  | yes         |
 *
 * From 1.7 the block is written even while the builder is bundled: it pins the same plugin
 * that 1.10 must use, so a build does not change builder when packer is upgraded.
 */
export function planFor(version: PackerVersion): PackerPlan {
  const modern = atLeast(version, 1, 7);
  return {
    version,
    qemuBuiltIn: !atLeast(version, 1, 10),
    requiredPlugins: modern,
    init: modern,
  };
}

/**
 * The `packer {}` block that declares the qemu plugin, as the content of `plugins.pkr.hcl`
 * (formatted as `packer fmt` would).
 */
export function pluginsHcl(): string {
  return [
    "# Written by kiln (packer/templates.ts) for packer >= 1.7: the qemu builder as a plugin.",
    "packer {",
    "  required_plugins {",
    "    qemu = {",
    `      source  = "${QEMU_PLUGIN.source}"`,
    `      version = "${QEMU_PLUGIN.version}"`,
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Runs `<packer> version` and parses it. Fails with `tool-missing` when the binary cannot be
 * started, `packer-version-unknown` when it prints no version, `packer-too-old` below
 * {@link MIN_PACKER}.
 */
export async function detectPackerVersion(packer = "packer"): Promise<PackerVersion | Failure> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(packer, {
      args: ["version"],
      // No call home for the "out of date" notice: builds run offline.
      env: { CHECKPOINT_DISABLE: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return failure(
        "tool-missing",
        `Packer "${packer}" was not found: install it (Debian: apt-get install packer) or put it on PATH`,
      );
    }
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout);
  const version = out.success ? parsePackerVersion(text) : null;
  if (!version) {
    const said = (text + new TextDecoder().decode(out.stderr)).trim().split("\n")[0] ?? "";
    return failure(
      "packer-version-unknown",
      `Packer "${packer}" printed no version ("${said}"): check that it is HashiCorp packer`,
    );
  }
  if (compareVersions(version, parsePackerVersion(MIN_PACKER)!) < 0) {
    return failure(
      "packer-too-old",
      `Packer ${version.text} is older than ${MIN_PACKER}: install packer ${MIN_PACKER} or newer`,
    );
  }
  return version;
}
