import assert from "node:assert/strict";
import { type AccelProbe, probeAccelerator } from "../../builders/accel_probe.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";
import { strayVmProcesses } from "../rig/vm_processes.ts";

/**
 * What KVM is on the machine running the tests. On the build machines /dev/kvm exists but
 * guests started with -accel kvm hang (paravirtual nested KVM), so the default is "unusable";
 * run with KILN_TEST_KVM=usable on a host where KVM works.
 */
function expectedKvm(): AccelProbe["kvm"] {
  const env = Deno.env.get("KILN_TEST_KVM");
  if (env === "usable" || env === "unusable" || env === "absent") return env;
  try {
    Deno.statSync("/dev/kvm");
    return "unusable";
  } catch {
    return "absent";
  }
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

function assertProbe(r: AccelProbe | { reason: string; message: string }): AccelProbe {
  assert.ok(!("message" in r), `probe failed: ${"message" in r ? r.message : ""}`);
  return r as AccelProbe;
}

Deno.test("probeAccelerator() boots a probe VM, caches the answer per boot id, and probes again after a reboot", async (t) => {
  const cacheDir = await makeTmp("accel-");
  let bootId = "boot-a";
  const opts = { cacheDir, bootId: () => bootId, timeoutMs: 4000 };
  try {
    let first!: AccelProbe;
    await t.step(
      "probeAccelerator() reports KVM's real state within 15 s when nothing is cached",
      async () => {
        const t0 = performance.now();
        first = assertProbe(await probeAccelerator(opts));
        const ms = performance.now() - t0;
        const kvm = expectedKvm();
        assert.equal(first.kvm, kvm, first.why);
        assert.equal(first.fromCache, false);
        if (kvm === "usable") {
          assert.equal(first.accelerator, "kvm");
          assert.ok(first.bootMs?.kvm! > 0);
        } else {
          assert.equal(first.accelerator, "tcg");
          assert.ok(first.bootMs?.tcg! > 0, "the TCG boot was measured");
          assert.match(
            first.slowdown ?? "",
            /^Measured: TCG booted the probe VM in \d+\.\d s\. Assumed/,
          );
          assert.match(
            first.why,
            kvm === "unusable" ? /printed nothing in 4\.0 s/ : /does not exist/,
          );
        }
        assert.ok(ms < 15_000, `the probe took ${Math.round(ms)} ms`);
        const cached = JSON.parse(Deno.readTextFileSync(`${cacheDir}/accel-probe.json`));
        assert.equal(cached.bootId, "boot-a");
        assert.match(
          Deno.readTextFileSync(`${cacheDir}/accel-probe.tcg.serial.log`),
          /KILN-PROBE-OK/,
        );
        assert.deepEqual(
          [...Deno.readDirSync(cacheDir)].filter((e) => e.name.includes("work")).map((e) => e.name),
          [],
          "the probe's work folder (kernel, initramfs) is gone",
        );
        assert.deepEqual(strayVmProcesses(cacheDir), []);
      },
    );

    await t.step(
      "probeAccelerator() answers from the cache without booting when the boot id is unchanged",
      async () => {
        const before = mtime(`${cacheDir}/accel-probe.tcg.serial.log`);
        const again = assertProbe(await probeAccelerator(opts));
        assert.equal(again.fromCache, true);
        assert.deepEqual({ ...again, fromCache: false }, first);
        assert.equal(mtime(`${cacheDir}/accel-probe.tcg.serial.log`), before, "no VM was booted");
      },
    );

    await t.step("probeAccelerator() probes again when the boot id changes", async () => {
      bootId = "boot-b";
      // A missing KVM device this time: the new answer differs, so it cannot come from the cache.
      const fresh = assertProbe(
        await probeAccelerator({ ...opts, kvmDevice: `${cacheDir}/no-kvm` }),
      );
      assert.equal(fresh.fromCache, false);
      assert.equal(fresh.kvm, "absent");
      assert.equal(fresh.accelerator, "tcg");
      assert.match(fresh.why, /no-kvm" does not exist/);
      const cached = JSON.parse(Deno.readTextFileSync(`${cacheDir}/accel-probe.json`));
      assert.equal(cached.bootId, "boot-b");
      assert.equal(cached.result.kvm, "absent");
      assert.deepEqual(strayVmProcesses(cacheDir), []);
    });
  } finally {
    await removeTree(cacheDir);
  }
});

Deno.test("probeAccelerator() picks TCG without booting when a Mac's architecture differs from the guest's", async () => {
  const cacheDir = await makeTmp("accel-mac-");
  try {
    const r = assertProbe(
      await probeAccelerator({
        cacheDir,
        bootId: () => "mac-boot",
        host: { os: "darwin", arch: "aarch64" },
        guestArch: "x86_64",
      }),
    );
    assert.equal(r.accelerator, "tcg");
    assert.equal(r.kvm, "absent");
    assert.match(r.why, /HVF cannot run a x86_64 guest on this aarch64 Mac/);
    assert.equal(r.bootMs, undefined, "nothing was booted");
  } finally {
    await removeTree(cacheDir);
  }
});

Deno.test("probeAccelerator() keeps no cache when the boot id is unknown", async () => {
  const cacheDir = await makeTmp("accel-noid-");
  try {
    const r = assertProbe(
      await probeAccelerator({
        cacheDir,
        bootId: () => null,
        host: { os: "darwin", arch: "aarch64" },
      }),
    );
    assert.equal(r.fromCache, false);
    assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await removeTree(cacheDir);
  }
});
