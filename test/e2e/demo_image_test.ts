/**
 * The OS-image pipeline end to end with the offline demo distro and real tools: build the ISO,
 * install it with packer (QEMU under TCG), validate the image by booting it, and see each stage
 * fail the way it should. The built files are shared by the steps (each boot costs seconds).
 */

import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import { validateImage } from "../../image/validate.ts";
import {
  buildDemoIso,
  type DemoIso,
  directBootKernel,
  readbackBoot,
  readbackMarker,
} from "../../iso/demo/demo_iso.ts";
import {
  buildDemoInitramfs,
  type DemoInitramfs,
  findHostKernel,
  requireTools,
} from "../../iso/demo/initramfs.ts";
import type { PackerEvent } from "../../packer/machine_readable.ts";
import { type PackerVars, packerVersion, runPackerBuild } from "../../packer/run.ts";
import { prepareTemplate } from "../../packer/templates.ts";
import { planFor } from "../../packer/version.ts";
import { strayVmProcesses } from "../rig/vm_processes.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/** packer/demo prepared as the pipeline prepares it: the template with the shared variables. */
async function demoTemplate(dir: string): Promise<string> {
  const version = await packerVersion();
  if ("reason" in version) throw new Error(version.message);
  return (await prepareTemplate("demo", `${dir}/template`, planFor(version))).dir;
}

/** What the run printed, for a report of where the time goes. */
const timings: string[] = [];

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings.push(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

function ok<T extends object>(r: T | Failure): T {
  if ("message" in r && "reason" in r) assert.fail(`unexpected failure ${r.reason}: ${r.message}`);
  return r as T;
}

function demoVars(dir: string, iso: DemoIso, name: string): PackerVars {
  return {
    iso_url: iso.path,
    iso_checksum: `sha256:${iso.sha256}`,
    output_directory: `${dir}/${name}`,
    vm_name: "demo.qcow2",
    accelerator: "tcg",
    serial_log: `${dir}/${name}.serial.log`,
    headless: true,
    cpus: 1,
    memory: 256,
    disk_size: "64M",
    boot_wait: "1s",
    shutdown_timeout: "2m",
  };
}

function children(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("the demo image pipeline builds, installs and validates an image, and catches bad ones", async (t) => {
  const dir = await makeTmp("demo-image-");
  const TEMPLATE = await demoTemplate(dir);
  const marker = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const kernel = ok(findHostKernel());
    let initrd!: DemoInitramfs;
    let iso!: DemoIso;
    let vmlinux!: string;
    let image!: string;

    await t.step(
      "buildDemoIso() gives the same sha256 when built twice from the same inputs",
      async () => {
        initrd = ok(
          await timed("initramfs", () => buildDemoInitramfs(`${dir}/initrd.gz`, { kernel })),
        );
        const again = ok(await buildDemoInitramfs(`${dir}/initrd-again.gz`, { kernel }));
        assert.equal(again.sha256, initrd.sha256, "the initramfs is reproducible");
        assert.ok(initrd.modules.some((m) => m.endsWith("/virtio_blk.ko")));
        assert.ok(initrd.modules.some((m) => m.endsWith("/ext4.ko")));
        iso = ok(
          await timed(
            "ISO",
            () => buildDemoIso(`${dir}/demo.iso`, { marker, initramfs: initrd.path }),
          ),
        );
        const second = ok(
          await buildDemoIso(`${dir}/demo-again.iso`, { marker, initramfs: again.path }),
        );
        assert.equal(second.sha256, iso.sha256, "the ISO is reproducible");
        assert.match(iso.sha256, /^[0-9a-f]{64}$/);
        const other = ok(
          await buildDemoIso(`${dir}/other.iso`, { marker: "other", initramfs: initrd.path }),
        );
        assert.notEqual(other.sha256, iso.sha256, "the marker is part of the ISO");
        assert.deepEqual(
          children(dir).filter((n) => n.includes(".tmp-")),
          [],
          "no staging folder left",
        );
        const k = await timed("vmlinux", () => directBootKernel(kernel, `${dir}/vmlinux`));
        assert.equal(typeof k, "string", JSON.stringify(k));
        vmlinux = k as string;
      },
    );

    await t.step("runPackerBuild() installs the demo ISO into a qcow2 under TCG", async () => {
      const events: PackerEvent[] = [];
      const vars = demoVars(dir, iso, "out");
      const r = ok(
        await timed("packer build", () =>
          runPackerBuild({
            template: TEMPLATE,
            vars,
            logPath: `${dir}/packer.log`,
            packerCacheDir: `${dir}/packer_cache`,
            onEvent: (e) => events.push(e),
          })),
      );
      image = `${dir}/out/demo.qcow2`;
      assert.deepEqual(r.artifacts, [image]);
      assert.ok(Deno.statSync(image).size > 0);
      const steps = events.filter((e) => e.kind === "step").map((e) => e.text);
      assert.ok(steps.includes("Waiting for shutdown..."), steps.join(" | "));
      assert.match(
        Deno.readTextFileSync(`${dir}/out.serial.log`),
        new RegExp(`KILN-INSTALL-OK ${marker}`),
      );
      assert.match(Deno.readTextFileSync(`${dir}/packer.log`), /,qemu\.demo,artifact,0,end/);
      assert.deepEqual(children(dir).filter((n) => n.includes(".partial-")), []);
      assert.deepEqual(strayVmProcesses(dir), []);
    });

    await t.step(
      "validateImage() finds the marker the installer wrote in the built image",
      async () => {
        const r = ok(
          await timed("validate (readback)", () =>
            validateImage({
              image,
              serialLog: `${dir}/validate.serial.log`,
              accelerator: "tcg",
              boot: readbackBoot(vmlinux, initrd.path),
              marker: readbackMarker(marker),
              timeoutMs: 90_000,
            })),
        );
        assert.equal(r.matched, `KILN-READBACK ${marker}`);
        assert.equal(r.check.format, "qcow2");
        assert.equal(r.check.corruptions, 0);
        assert.deepEqual(strayVmProcesses(dir), []);
      },
    );

    await t.step(
      "validateImage() fails with image-boot-failed when the disk holds no marker",
      async () => {
        const blank = `${dir}/blank.qcow2`;
        const made = await new Deno.Command("qemu-img", {
          args: ["create", "-q", "-f", "qcow2", blank, "64M"],
        }).output();
        assert.ok(made.success);
        const serialLog = `${dir}/blank.serial.log`;
        const r = await timed("validate (blank disk)", () =>
          validateImage({
            image: blank,
            serialLog,
            accelerator: "tcg",
            boot: readbackBoot(vmlinux, initrd.path),
            marker: readbackMarker(marker),
            timeoutMs: 90_000,
          }));
        assert.ok("message" in r, "a blank disk must not validate");
        assert.equal(r.reason, "image-boot-failed");
        assert.match(r.message, /stopped after \d+\.\d s without printing/);
        assert.ok(r.message.includes(`serial log "${serialLog}"`), r.message);
        assert.match(r.message, /KILN-READBACK-FAILED no marker\.txt on \/dev\/vda1/);
        assert.match(Deno.readTextFileSync(serialLog), /KILN-READBACK-FAILED/);
        assert.deepEqual(strayVmProcesses(dir), []);
      },
    );

    await t.step(
      "validateImage() times out with image-boot-failed and kills QEMU when a disk boots to nothing",
      async () => {
        const serialLog = `${dir}/timeout.serial.log`;
        // The demo disk has no bootloader: booted by itself, it never prints a login prompt.
        const r = await timed("validate (timeout)", () =>
          validateImage({
            image,
            serialLog,
            accelerator: "tcg",
            marker: /login: $/,
            timeoutMs: 3000,
          }));
        assert.ok("message" in r);
        assert.equal(r.reason, "image-boot-failed");
        assert.match(r.message, /printed no \/login: \$\/ within 3 s/);
        assert.ok(r.message.includes(serialLog));
        assert.deepEqual(strayVmProcesses(dir), []);
      },
    );

    await t.step("validateImage() returns interrupted and kills QEMU when aborted", async () => {
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 1000);
      const r = await validateImage({
        image,
        serialLog: `${dir}/abort.serial.log`,
        accelerator: "tcg",
        boot: readbackBoot(vmlinux, initrd.path),
        marker: readbackMarker(marker),
        timeoutMs: 90_000,
        signal: ctl.signal,
      });
      assert.ok("message" in r);
      assert.equal(r.reason, "interrupted");
      assert.deepEqual(strayVmProcesses(dir), []);
    });

    await t.step(
      "validateImage() fails with image-corrupt when qemu-img check finds corruption",
      async () => {
        const bad = `${dir}/corrupt.qcow2`;
        Deno.copyFileSync(image, bad);
        // Point the first L1 entry at an offset that is not cluster-aligned.
        using f = Deno.openSync(bad, { read: true, write: true });
        const header = new Uint8Array(48);
        f.readSync(header);
        const l1 = new DataView(header.buffer).getBigUint64(40);
        const entry = new Uint8Array(8);
        new DataView(entry.buffer).setBigUint64(0, (1n << 63n) | 0x123400n);
        f.seekSync(Number(l1), Deno.SeekMode.Start);
        f.writeSync(entry);
        const r = await validateImage({
          image: bad,
          serialLog: `${dir}/corrupt.serial.log`,
          accelerator: "tcg",
          marker: /never/,
        });
        assert.ok("message" in r);
        assert.equal(r.reason, "image-corrupt");
        assert.match(r.message, /\d+ corruptions: "ERROR/);
        const garbage = `${dir}/garbage.qcow2`;
        Deno.writeTextFileSync(garbage, "not an image\n".repeat(1000));
        const g = await validateImage({
          image: garbage,
          serialLog: `${dir}/garbage.serial.log`,
          accelerator: "tcg",
          marker: /never/,
        });
        assert.equal("reason" in g && g.reason, "image-corrupt");
      },
    );

    await t.step(
      "runPackerBuild() fails fast with packer-failed when iso_checksum is wrong",
      async () => {
        const vars = { ...demoVars(dir, iso, "bad"), iso_checksum: `sha256:${"0".repeat(64)}` };
        const r = await timed("packer (bad checksum)", () =>
          runPackerBuild({
            template: TEMPLATE,
            vars,
            logPath: `${dir}/bad.packer.log`,
            packerCacheDir: `${dir}/packer_cache`,
          }));
        assert.ok("message" in r);
        assert.equal(r.reason, "packer-failed");
        assert.match(r.message, /Checksums did not match/);
        assert.ok(r.message.includes(`full log "${dir}/bad.packer.log"`), r.message);
        assert.ok(!r.message.includes("\n"));
        assert.deepEqual(children(dir).filter((n) => n.startsWith("bad")), [
          "bad.packer.log",
        ], "no output folder, partial or final");
      },
    );

    await t.step(
      "runPackerBuild() fails with output-exists when the output directory is there",
      async () => {
        const r = await runPackerBuild({
          template: TEMPLATE,
          vars: demoVars(dir, iso, "out"),
          logPath: `${dir}/exists.packer.log`,
        });
        assert.equal("reason" in r && r.reason, "output-exists");
        assert.ok(Deno.statSync(image).isFile, "the existing image is untouched");
      },
    );

    await t.step(
      "runPackerBuild() kills packer and QEMU and leaves no output when aborted",
      async () => {
        const ctl = new AbortController();
        const r = await timed("packer (aborted)", () =>
          runPackerBuild({
            template: TEMPLATE,
            vars: demoVars(dir, iso, "aborted"),
            logPath: `${dir}/aborted.packer.log`,
            packerCacheDir: `${dir}/packer_cache`,
            signal: ctl.signal,
            onEvent: (e) => {
              // QEMU is running once packer waits for the installer to power off.
              if (e.kind === "step" && e.text === "Waiting for shutdown...") ctl.abort();
            },
          }));
        assert.ok(ctl.signal.aborted, "the build reached the VM");
        assert.equal("reason" in r && r.reason, "interrupted");
        assert.deepEqual(
          children(dir).filter((n) => n.startsWith("aborted.") && !n.endsWith(".log")),
          [],
        );
        assert.deepEqual(strayVmProcesses(dir), []);
      },
    );
  } finally {
    console.log(`demo image pipeline timings: ${timings.join(", ")}`);
    await removeTree(dir);
  }
});

Deno.test("requireTools() fails with tool-missing naming the Debian package when a tool is absent", () => {
  const r = requireTools({ cpio: "cpio", "kiln-no-such-tool": "kiln-tools" });
  assert.ok("reason" in r);
  assert.equal(r.reason, "tool-missing");
  assert.equal(
    r.message,
    'Tool "kiln-no-such-tool" is not installed: install the Debian package "kiln-tools"',
  );
  const found = requireTools({ cpio: "cpio" });
  assert.ok(!("reason" in found) && found.cpio.endsWith("/cpio"));
});

Deno.test("findHostKernel() fails with tool-missing naming linux-image-amd64 when /boot has no kernel", async () => {
  const dir = await makeTmp("no-kernel-");
  try {
    Deno.mkdirSync(`${dir}/boot`);
    Deno.writeTextFileSync(`${dir}/boot/vmlinuz-6.1.0-1-amd64`, "kernel without modules");
    const r = findHostKernel({ bootDir: `${dir}/boot`, modulesRoot: `${dir}/modules` });
    assert.ok("reason" in r);
    assert.equal(r.reason, "tool-missing");
    assert.match(r.message, /install the Debian package "linux-image-amd64"$/);
    Deno.mkdirSync(`${dir}/modules/6.1.0-1-amd64`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/boot/vmlinuz-6.1.0-10-amd64`, "newer, no modules");
    const k = findHostKernel({ bootDir: `${dir}/boot`, modulesRoot: `${dir}/modules` });
    assert.deepEqual(k, {
      path: `${dir}/boot/vmlinuz-6.1.0-1-amd64`,
      version: "6.1.0-1-amd64",
      modulesDir: `${dir}/modules/6.1.0-1-amd64`,
    });
  } finally {
    await removeTree(dir);
  }
});

Deno.test("packerVersion() parses the installed packer's version", async () => {
  const v = ok(await packerVersion());
  assert.match(v.text, /^\d+\.\d+\.\d+/);
  assert.ok(v.major >= 1);
  const missing = await packerVersion({ packer: "/nonexistent/packer" });
  assert.equal("reason" in missing && missing.reason, "tool-missing");
});
