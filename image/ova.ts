/**
 * Packing an OVA: a streamOptimized vmdk of the disk, an OVF descriptor of the machine (see
 * `ovf.ts`), a SHA-256 manifest, tarred in that order as OVF 1.0 requires. Kept apart from
 * `convert.ts` because it is the one output that is a package of several files rather than a
 * single `qemu-img convert`.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { ConvertOptions } from "./convert.ts";
import { CIM_OS_TYPES, ovfDescriptor, ovfManifest } from "./ovf.ts";
import {
  convertArgs,
  convertFailed,
  type ImageInfo,
  lastLine,
  populatedBytes,
  qemuImg,
} from "./qemu_img.ts";

async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const h = createHash("sha256");
  using f = await Deno.open(path);
  const buf = new Uint8Array(4 << 20);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/** Writes `name.ovf`, `name.vmdk`, `name.mf` into `work` and tars them, in that order, to `out`. */
export async function buildOva(
  src: string,
  info: ImageInfo,
  out: string,
  work: string,
  name: string,
  o: ConvertOptions,
  bin: string,
): Promise<void | Failure> {
  const machine = o.ova;
  if (!machine) throw new Error("convertImage: format ova needs the ova machine description");
  const [ovf, vmdk, mf] = [`${name}.ovf`, `${name}.vmdk`, `${name}.mf`];
  await Deno.mkdir(work);
  const conv = await qemuImg(
    bin,
    convertArgs(src, info.format, `${work}/${vmdk}`, {
      format: "vmdk",
      vmdkSubformat: "streamOptimized",
    }),
    o.signal,
  );
  if ("reason" in conv) return conv;
  if (!conv.ok) return convertFailed(src, "ova", conv.stderr, o.signal);
  const populated = await populatedBytes(src, info.format, bin);
  if (typeof populated !== "number") return populated;
  const os = typeof machine.os === "number" ? machine.os : CIM_OS_TYPES[machine.os ?? ""] ?? 101;
  const descriptor = ovfDescriptor({
    name: machine.name ?? name,
    cpus: machine.cpus,
    memoryMiB: machine.memoryMiB,
    osType: os,
    disk: {
      file: vmdk,
      fileSize: (await Deno.stat(`${work}/${vmdk}`)).size,
      capacity: info.virtualSize,
      populatedSize: populated,
    },
  });
  await Deno.writeTextFile(`${work}/${ovf}`, descriptor);
  await Deno.writeTextFile(
    `${work}/${mf}`,
    ovfManifest([
      { name: ovf, sha256: await sha256File(`${work}/${ovf}`) },
      { name: vmdk, sha256: await sha256File(`${work}/${vmdk}`) },
    ]),
  );
  // OVF asks for USTAR, whose members stop at 8 GiB; a larger disk needs the POSIX (pax) form.
  const big = (await Deno.stat(`${work}/${vmdk}`)).size >= 8 * 1024 ** 3;
  const tar = await new Deno.Command("tar", {
    args: [
      `--format=${big ? "posix" : "ustar"}`,
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mode=0644",
      "-cf",
      out,
      "-C",
      work,
      ovf,
      vmdk,
      mf,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: o.signal,
  }).output();
  if (!tar.success) {
    if (o.signal?.aborted) return convertFailed(src, "ova", "", o.signal);
    return failure(
      "image-convert-failed",
      `Packing OVA "${out}" failed: ${lastLine(new TextDecoder().decode(tar.stderr))}`,
    );
  }
}
