/**
 * Running the real `qemu-img`: the runner, the queries kiln makes (`info`, `map`, `--version`),
 * the `convert` command line of each disk format and how a failed conversion is reported. Kept
 * apart from `convert.ts` so that both a plain conversion and the OVA packing in `ova.ts` build
 * on it without depending on each other.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { ConvertOptions, ImageFormat } from "./convert.ts";

/** Part of `qemu-img info --output=json`. */
export interface ImageInfo {
  readonly format: string;
  readonly virtualSize: number;
  /** `compression-type` of a qcow2 (`zlib` or `zstd`), else null. */
  readonly compressionType: string | null;
  /** `create-type` of a vmdk (e.g. `streamOptimized`), else null. */
  readonly vmdkCreateType: string | null;
}

/** Runs `bin` with `args`, capturing its output; `tool-missing` when there is no such binary. */
export async function qemuImg(
  bin: string,
  args: string[],
  signal?: AbortSignal,
): Promise<{ ok: boolean; code: number; stdout: string; stderr: string } | Failure> {
  try {
    const out = await new Deno.Command(bin, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const d = new TextDecoder();
    return {
      ok: out.success,
      code: out.code,
      stdout: d.decode(out.stdout),
      stderr: d.decode(out.stderr),
    };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return failure(
        "tool-missing",
        `"${bin}" was not found: install qemu-utils (Debian: apt-get install qemu-utils)`,
      );
    }
    throw e;
  }
}

/** The last non-empty line of a tool's output, for a failure message. */
export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() || "no message";
}

/** `qemu-img info` of `path`. Fails with `image-not-found` or `image-unreadable`. */
export async function imageInfo(path: string, bin = "qemu-img"): Promise<ImageInfo | Failure> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return failure("image-not-found", `Image "${path}" does not exist: build it first`);
    }
    throw e;
  }
  const r = await qemuImg(bin, ["info", "--output=json", path]);
  if ("reason" in r) return r;
  if (!r.ok) {
    return failure(
      "image-unreadable",
      `qemu-img cannot read "${path}": ${lastLine(r.stderr)}; rebuild the image`,
    );
  }
  const j = JSON.parse(r.stdout);
  const data = j["format-specific"]?.data ?? {};
  return {
    format: j.format,
    virtualSize: j["virtual-size"],
    compressionType: j.format === "qcow2" ? data["compression-type"] ?? "zlib" : null,
    vmdkCreateType: j.format === "vmdk" ? data["create-type"] ?? null : null,
  };
}

/**
 * Bytes of `path`'s disk that hold data, from `qemu-img map` (allocated, non-zero extents): the
 * OVF `populatedSize`.
 */
export async function populatedBytes(
  path: string,
  format: string,
  bin = "qemu-img",
): Promise<number | Failure> {
  const r = await qemuImg(bin, ["map", "--output=json", "-f", format, path]);
  if ("reason" in r) return r;
  if (!r.ok) {
    return failure("image-unreadable", `qemu-img cannot map "${path}": ${lastLine(r.stderr)}`);
  }
  const extents = JSON.parse(r.stdout) as { length: number; data: boolean; zero: boolean }[];
  return extents.reduce((n, e) => n + (e.data && !e.zero ? e.length : 0), 0);
}

/**
 * The `qemu-img convert` arguments for a disk format (not `ova`, which is built around a vmdk).
 * `-f` names the source format so qemu-img never guesses it from the bytes.
 *
 * @example
 * ```ts
 * convertArgs("in.qcow2", "qcow2", "out.qcow2", { format: "qcow2" });
 * // ["convert", "-f", "qcow2", "-O", "qcow2", "-c", "-o", "compression_type=zstd",
 * //  "in.qcow2", "out.qcow2"]
 * ```
 */
export function convertArgs(
  src: string,
  srcFormat: string,
  dest: string,
  o: Pick<ConvertOptions, "format" | "compression" | "vmdkSubformat">,
): string[] {
  const head = ["convert", "-f", srcFormat];
  switch (o.format) {
    case "qcow2": {
      const c = o.compression ?? "zstd";
      const opts = c === "none" ? [] : ["-c", "-o", `compression_type=${c}`];
      return [...head, "-O", "qcow2", ...opts, src, dest];
    }
    case "vhdx":
      return [...head, "-O", "vhdx", "-o", "subformat=dynamic", src, dest];
    case "vmdk":
      return [
        ...head,
        "-O",
        "vmdk",
        "-o",
        `subformat=${o.vmdkSubformat ?? "monolithicSparse"}`,
        src,
        dest,
      ];
    case "ova":
      throw new Error("an OVA is not a qemu-img format: use convertImage");
  }
}

/** The failure of a conversion: `interrupted` when `signal` aborted it, else `image-convert-failed`. */
export function convertFailed(
  src: string,
  format: ImageFormat,
  stderr: string,
  signal?: AbortSignal,
): Failure {
  if (signal?.aborted) {
    return failure("interrupted", `Converting "${src}" to ${format} was interrupted`);
  }
  return failure(
    "image-convert-failed",
    `Converting "${src}" to ${format} failed: ${lastLine(stderr)}; check the free disk space`,
  );
}

/**
 * The version of `qemu-img` (`7.2.22` from `qemu-img version 7.2.22 (Debian ...)`), for image
 * metadata. Fails with `tool-missing`.
 */
export async function qemuImgVersion(bin = "qemu-img"): Promise<string | Failure> {
  const r = await qemuImg(bin, ["--version"]);
  if ("reason" in r) return r;
  const m = r.stdout.match(/version\s+(\d+\.\d+(?:\.\d+)?)/);
  if (!r.ok || !m) {
    return failure(
      "tool-version-unknown",
      `"${bin} --version" printed no version: check the qemu-utils install`,
    );
  }
  return m[1];
}
