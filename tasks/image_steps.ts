/**
 * The VM half of the OS-image pipeline, per distro: build the disk with packer from the verified
 * ISO, boot it to validate it, then compress it and write its metadata. Each step is a cached
 * task; the packer and validate steps share the `vm` pool (one VM at a time by default, so two
 * QEMUs never split two cores).
 *
 * Files between steps: `build/iso/<id>/verified.json` (the ISO's digest and signer),
 * `build/images/<id>/<id>.qcow2` plus `build.json` (the raw image, when and how it was built),
 * `build/images/<id>/validate.json`, and the release folder `dist/images/<id>/`.
 *
 * @module
 */

import { failure } from "../engine/failure.ts";
import { join } from "../engine/path.ts";
import { fn, type Task } from "../engine/task.ts";
import type { ImageFormat } from "../image/convert.ts";
import type { DistroEntry } from "../iso/catalog.ts";
import { findHostKernel } from "../iso/demo/initramfs.ts";
import { isoForStep, type VerifiedRecord } from "./iso_steps.ts";
import { DEMO_DIR, DEMO_MARKER } from "./demo_source.ts";
import { HOST_PROBE } from "./host_probe.ts";

/** The VM each distro is installed in. */
export interface VmSize {
  readonly cpus: number;
  readonly memory: number;
  readonly diskSize: string;
  readonly bootWait: string;
  readonly shutdownTimeout: string;
  /** How long validate waits for the boot marker. */
  readonly validateTimeoutMs: number;
}

/** Where a distro's raw image and its step records live. */
export function imageDir(id: string): string {
  return `build/images/${id}`;
}

/** The release folder of a distro. */
export function releaseDir(id: string): string {
  return `dist/images/${id}`;
}

interface BuildRecord {
  readonly image: string;
  readonly accelerator: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly packer: string;
  /** Time spent in QEMU and packer (the accelerator probe, when it booted, and the build). */
  readonly vmMs: { readonly probe: number; readonly packer: number };
}

/** The host kernel's path (the demo boots it); `vmlinuz` when none is found (QEMU then says so). */
function hostKernelPath(): string {
  const k = findHostKernel();
  return "reason" in k ? "/boot/vmlinuz" : k.path;
}

/** What QEMU itself takes beside the guest's memory, for `needs.memoryMiB`. */
const QEMU_OVERHEAD_MIB = 256;

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await Deno.readTextFile(path));

/** The packer step: installs the distro from its verified ISO into a qcow2 disk. */
export function packerTask(d: DistroEntry, size: VmSize): Task {
  const dir = imageDir(d.id);
  const image = `${dir}/${d.id}.qcow2`;
  const record = `${dir}/build.json`;
  return {
    id: `image:${d.id}:packer`,
    description: `Install ${d.name} with packer (qemu)`,
    deps: [`iso:${d.id}:verify`, HOST_PROBE],
    // The template folder in the workspace: editing a kickstart rebuilds the image.
    inputs: [`packer/${d.id}/**`, "packer/variables.pkr.hcl"],
    params: { ...size, validateTimeoutMs: null, v: 1 },
    tools: [{ name: "packer", args: ["version"] }, { name: "qemu-system-x86_64" }],
    outputs: [image, record],
    pool: "vm",
    // packer's qemu builder also runs qemu-img (to create the disk).
    needs: {
      vm: "x86_64",
      tools: ["packer", "qemu-system-x86_64", "qemu-img"],
      memoryMiB: size.memory + QEMU_OVERHEAD_MIB,
    },
    action: fn(import.meta.url, async (ctx) => {
      // Loaded when a step runs, not when the pipeline is defined (a no-op needs none of it).
      const { probeAccelerator } = await import("../builders/accel_probe.ts");
      const { packerVersion, runPackerBuild } = await import("../packer/run.ts");
      const { prepareTemplate } = await import("../packer/templates.ts");
      const { planFor } = await import("../packer/version.ts");
      const startedAt = new Date();
      const verified = await readJson<VerifiedRecord>(ctx.path(`build/iso/${d.id}/verified.json`));
      const iso = await isoForStep(ctx, d, verified.sha256);
      if (typeof iso !== "string") return iso;
      const probeStart = performance.now();
      const accel = await probeAccelerator({ signal: ctx.signal });
      if ("reason" in accel) return accel;
      const probeMs = accel.fromCache ? 0 : performance.now() - probeStart;
      if (accel.slowdown) ctx.log(`accelerator: ${accel.accelerator} (${accel.slowdown})`);
      const version = await packerVersion();
      if ("reason" in version) return version;
      const tmp = ctx.env.TMPDIR;
      const prepared = await prepareTemplate(d.id, join(tmp, `packer-${d.id}`), planFor(version), {
        root: ctx.root,
      });
      for (const cmd of prepared.setup) await ctx.exec([...cmd]);
      const out = join(tmp, `packer-${d.id}-out`);
      const logs = ctx.path(`.kiln/logs`);
      const r = await runPackerBuild({
        template: prepared.dir,
        vars: {
          iso_url: iso,
          iso_checksum: `sha256:${verified.sha256}`,
          output_directory: out,
          vm_name: `${d.id}.qcow2`,
          accelerator: accel.accelerator,
          serial_log: join(logs, `image-${d.id}-install.serial.log`),
          headless: true,
          cpus: size.cpus,
          memory: size.memory,
          disk_size: size.diskSize,
          boot_wait: size.bootWait,
          shutdown_timeout: size.shutdownTimeout,
        },
        logPath: join(logs, `image-${d.id}-packer.log`),
        // packer's own words go to the task's log (the machine-readable form is in logPath);
        // its current step shows next to the task in the live view.
        onEvent: (e) => {
          if (e.kind === "step") ctx.progress(e.text);
          if (e.kind === "step" || e.kind === "message" || e.kind === "error") {
            ctx.log(`packer: ${e.text}`);
          }
        },
        signal: ctx.signal,
      });
      if ("reason" in r) return r;
      const built = r.artifacts.find((a) => a.endsWith(".qcow2")) ?? r.artifacts[0];
      if (!built) return failure("packer-failed", `Packer built no image for "${d.id}"`);
      await Deno.mkdir(ctx.path(dir), { recursive: true });
      await Deno.rename(built, ctx.path(image));
      const rec: BuildRecord = {
        image: `${d.id}.qcow2`,
        accelerator: accel.accelerator,
        startedAt: startedAt.toISOString(),
        endedAt: new Date().toISOString(),
        packer: version.text,
        vmMs: { probe: Math.round(probeMs), packer: Math.round(r.durationMs) },
      };
      await Deno.writeTextFile(ctx.path(record), JSON.stringify(rec, null, 2) + "\n");
      ctx.log(`packer built ${image} in ${(r.durationMs / 1000).toFixed(1)} s`);
    }),
  };
}

/** The validate step: `qemu-img check`, then a headless boot until the distro's marker. */
export function validateTask(d: DistroEntry, size: VmSize): Task {
  const dir = imageDir(d.id);
  const demo = d.id === "demo";
  return {
    id: `image:${d.id}:validate`,
    description: `Boot the ${d.name} image until "${d.bootMarker}"`,
    deps: [`image:${d.id}:packer`, HOST_PROBE, ...(demo ? ["demo:initramfs"] : [])],
    params: { marker: d.bootMarker, timeoutMs: size.validateTimeoutMs, v: 1 },
    tools: [{ name: "qemu-system-x86_64" }, { name: "qemu-img" }],
    outputs: [`${dir}/validate.json`],
    pool: "vm",
    // validateImage boots a VM of qemuArgv's default memory (image/boot.ts), 512 MiB.
    needs: {
      vm: "x86_64",
      tools: ["qemu-system-x86_64", "qemu-img"],
      memoryMiB: 512 + QEMU_OVERHEAD_MIB,
    },
    action: fn(import.meta.url, async (ctx) => {
      const { probeAccelerator } = await import("../builders/accel_probe.ts");
      const { validateImage } = await import("../image/validate.ts");
      const { readbackBoot, readbackMarker } = await import("../iso/demo/demo_iso.ts");
      const accel = await probeAccelerator({ signal: ctx.signal });
      if ("reason" in accel) return accel;
      const serialLog = ctx.path(`.kiln/logs/image-${d.id}-validate.serial.log`);
      const started = performance.now();
      const r = await validateImage({
        image: ctx.path(`${dir}/${d.id}.qcow2`),
        serialLog,
        accelerator: accel.accelerator,
        timeoutMs: size.validateTimeoutMs,
        // The demo image has no bootloader: its own kernel and initramfs read the disk back.
        ...(demo
          ? {
            marker: readbackMarker(DEMO_MARKER),
            boot: readbackBoot(hostKernelPath(), ctx.path(`${DEMO_DIR}/initrd.gz`)),
          }
          : { marker: new RegExp(d.bootMarker, "m") }),
        signal: ctx.signal,
      });
      if ("reason" in r) return r;
      ctx.log(`validated: "${r.matched.trim()}" after ${(r.bootMs / 1000).toFixed(1)} s`);
      // vmMs: the time in qemu-img and QEMU, for the benchmark's "kiln's own overhead".
      const out = {
        matched: r.matched.trim(),
        check: r.check,
        vmMs: Math.round(performance.now() - started),
      };
      await Deno.writeTextFile(ctx.path(`${dir}/validate.json`), JSON.stringify(out) + "\n");
    }),
  };
}

const FORMATS: readonly ImageFormat[] = ["qcow2", "vhdx", "vmdk", "ova"];

/**
 * The release formats a build asks for: `KILN_IMAGE_FORMATS` (comma-separated, e.g.
 * `qcow2,ova`), default zstd-compressed qcow2 alone. An unknown name is an error, not ignored.
 */
export function releaseFormats(value: string | undefined): ImageFormat[] | string {
  const wanted = (value ?? "qcow2").split(",").map((s) => s.trim()).filter(Boolean);
  const bad = wanted.find((f) => !FORMATS.includes(f as ImageFormat));
  if (bad !== undefined) return bad;
  return wanted.length ? [...new Set(wanted as ImageFormat[])] : ["qcow2"];
}

/** The compress step: the release images (zstd qcow2 by default), metadata.json, SHA256SUMS. */
export function compressTask(d: DistroEntry): Task {
  const dir = imageDir(d.id);
  const release = releaseDir(d.id);
  const base = `${d.id}-${d.version}-${d.arch}`;
  return {
    id: `image:${d.id}:compress`,
    description: `Release images of ${d.name} with metadata and SHA256SUMS`,
    deps: [`image:${d.id}:validate`, `image:${d.id}:packer`, `iso:${d.id}:verify`],
    params: { version: d.version, v: 1 },
    env: ["KILN_IMAGE_FORMATS"],
    // Who built it is recorded in metadata.json but is not part of the key: a laptop restores
    // what CI built (see `passEnv`).
    passEnv: ["CI", "KILN_BUILDER"],
    tools: [{ name: "qemu-img" }],
    outputs: [release],
    needs: { tools: ["qemu-img"] },
    action: fn(import.meta.url, async (ctx) => {
      const { convertImage, qemuImgVersion } = await import("../image/convert.ts");
      const { describeImage, detectBuilder, writeMetadata, writeSha256Sums } = await import(
        "../image/metadata.ts"
      );
      const formats = releaseFormats(ctx.env.KILN_IMAGE_FORMATS);
      if (typeof formats === "string") {
        return failure(
          "bad-image-format",
          `KILN_IMAGE_FORMATS names "${formats}"; use a comma-separated list of ${
            FORMATS.join(", ")
          }`,
        );
      }
      const verified = await readJson<VerifiedRecord>(ctx.path(`build/iso/${d.id}/verified.json`));
      const built = await readJson<BuildRecord>(ctx.path(`${dir}/build.json`));
      await Deno.mkdir(ctx.path(release), { recursive: true });
      const images = [];
      for (const format of formats) {
        const file = `${base}.${format}`;
        const r = await convertImage(
          ctx.path(`${dir}/${d.id}.qcow2`),
          ctx.path(`${release}/${file}`),
          {
            format,
            ...(format === "ova" ? { ova: { cpus: 2, memoryMiB: 2048, os: d.id } } : {}),
            signal: ctx.signal,
          },
        );
        if ("reason" in r) return r;
        ctx.log(`${file}: ${r.bytes} bytes in ${r.seconds.toFixed(1)} s`);
        images.push(await describeImage(r.path, format));
      }
      const qemu = await qemuImgVersion();
      if (typeof qemu !== "string") return qemu;
      writeMetadata(ctx.path(release), {
        distro: d.id,
        version: d.version,
        iso: { sha256: verified.sha256, signerFingerprint: verified.signer },
        packerVersion: built.packer,
        qemuVersion: qemu,
        images,
        builder: detectBuilder(ctx.env),
        startedAt: new Date(built.startedAt),
        finishedAt: new Date(),
      });
      await writeSha256Sums(
        ctx.path(release),
        [...images.map((i) => i.file), "metadata.json"],
        images,
      );
    }),
  };
}
