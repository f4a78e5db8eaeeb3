import assert from "node:assert/strict";
import {
  foreignArch,
  fromProbe,
  gatherHostFacts,
  type HostFacts,
  toolFact,
} from "../../builders/host_facts.ts";
import {
  parseDfPk,
  parseMeminfo,
  parseOsRelease,
  parseVmStat,
} from "../../builders/host_system.ts";
import { HOST_TOOLS, versionOf } from "../../builders/host_tools.ts";
import { toolPath } from "../../iso/demo/host_tools.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";
import { strayVmProcesses } from "../rig/vm_processes.ts";

/** What KVM is here (see accel_probe_test.ts): KILN_TEST_KVM, else "unusable" when /dev/kvm exists. */
function expectedKvm(): string {
  const env = Deno.env.get("KILN_TEST_KVM");
  if (env) return env;
  try {
    Deno.statSync("/dev/kvm");
    return "unusable";
  } catch {
    return "absent";
  }
}

function sh(script: string): string {
  const r = new Deno.Command("sh", { args: ["-c", script], stderr: "null" }).outputSync();
  return new TextDecoder().decode(r.stdout).trim();
}

Deno.test("gatherHostFacts() reports this machine's CPU, memory, disk, tools and KVM verdict, then answers from the probe cache", async () => {
  const dir = await makeTmp("host-facts-");
  const opts = {
    dir: `${dir}/work/not-made-yet`,
    extraTools: ["kiln-no-such-tool", "git"],
    probe: { cacheDir: `${dir}/cache`, bootId: () => "host-facts-boot" },
  };
  try {
    const facts: HostFacts = await gatherHostFacts(opts);
    assert.equal(facts.os.kind, "linux");
    assert.equal(facts.arch, Deno.build.arch);
    assert.equal(facts.cores, Number(sh("nproc")));
    assert.match(facts.os.name, /\S/);
    assert.equal(facts.os.root, Deno.uid() === 0);

    // Memory and disk against independent readings (they move a little between the readings).
    const memTotalMiB = Math.floor(
      Number(sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo")) / 1024,
    );
    assert.equal(facts.memory?.totalMiB, memTotalMiB);
    assert.ok(facts.memory!.availableMiB > 0 && facts.memory!.availableMiB <= memTotalMiB);
    const dfFreeMiB = Number(sh(`df -Pk '${dir}' | awk 'NR==2 {print $4}'`)) / 1024;
    assert.equal(facts.disk?.path, opts.dir, "the folder asked about, though it does not exist");
    assert.ok(
      Math.abs(facts.disk!.freeMiB - dfFreeMiB) < 1024,
      `${facts.disk!.freeMiB} vs ${dfFreeMiB}`,
    );
    assert.ok(facts.disk!.totalMiB >= facts.disk!.freeMiB);

    // Every tool installed here has a path and the version it prints itself.
    for (const t of HOST_TOOLS) {
      const path = sh(`PATH='${toolPath()}' command -v ${t.name}`) || null;
      const fact = facts.tools[t.name];
      assert.equal(fact.path, path, t.name);
      if (path) {
        // The first line of stdout, else of stderr (xorriso writes a longer one there).
        const run = `'${path}' ${t.versionArgs.join(" ")} </dev/null`;
        const line = sh(`${run} 2>/dev/null | head -n 1`) ||
          sh(`${run} 2>&1 >/dev/null | head -n 1`);
        assert.equal(fact.line, line, t.name);
        assert.equal(fact.version, versionOf(line), t.name);
        assert.match(fact.version!, /^\d+(\.\d+)*$/, `${t.name}: ${line}`);
      } else assert.equal(fact.version, null, t.name);
    }
    assert.match(facts.tools.git.version ?? "", /^2\.\d+\.\d+$/, "git is installed here");
    assert.match(facts.tools["qemu-img"].version ?? "", /^\d+\.\d+\.\d+$/);
    assert.deepEqual(facts.tools["kiln-no-such-tool"], {
      name: "kiln-no-such-tool",
      neededFor: "tests",
      path: null,
      version: null,
    });

    // The files the demo needs, where Debian puts them.
    const kernel = facts.files.find((f) => f.name === "linux-kernel")!;
    assert.match(kernel.path ?? "", /^\/boot\/vmlinuz-.+-amd64$/);

    // Virtualization: the real probe ran (x86_64), and aarch64 follows its QEMU's presence.
    const x86 = facts.virt.x86_64!;
    assert.equal(x86.kvm, expectedKvm(), x86.why);
    assert.equal(x86.fromCache, false);
    if (x86.kvm === "usable") assert.equal(x86.accelerator, "kvm");
    else {
      assert.equal(x86.accelerator, "tcg");
      assert.ok(x86.slowdownFactor! >= 1, "the probe measured the TCG boot");
      assert.match(x86.slowdown ?? "", /^Measured: TCG booted the probe VM in/);
    }
    const arm = facts.virt.aarch64!;
    assert.equal(arm.accelerator, facts.tools["qemu-system-aarch64"].path ? "tcg" : null);
    assert.deepEqual(strayVmProcesses(dir), []);

    const again = await gatherHostFacts(opts);
    assert.equal(again.virt.x86_64?.fromCache, true);
    assert.deepEqual({ ...again.virt.x86_64, fromCache: false }, x86);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("toolFact() gives up on a tool that does not answer within its timeout", async () => {
  const dir = await makeTmp("host-facts-hang-");
  try {
    Deno.writeTextFileSync(`${dir}/hangs`, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    Deno.writeTextFileSync(`${dir}/silent`, "#!/bin/sh\nexit 3\n", { mode: 0o755 });
    const tool = (name: string) => ({
      name,
      versionArgs: ["--version"],
      neededFor: "tests" as const,
    });
    const hang = await toolFact(tool("hangs"), dir, 300);
    assert.deepEqual(hang, {
      name: "hangs",
      neededFor: "tests",
      path: `${dir}/hangs`,
      version: null,
      error: "no answer in 300 ms",
    });
    const silent = await toolFact(tool("silent"), dir, 5000);
    assert.equal(silent.error, "printed nothing (exit 3)");
    assert.equal((await toolFact(tool("absent"), dir, 5000)).path, null);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("gatherHostFacts() reports no VM when the probe fails, without booting anything", async () => {
  const facts = await gatherHostFacts({
    tools: [],
    files: [],
    probeAccelerator: () =>
      Promise.resolve({
        reason: "tool-missing",
        message: 'Tool "qemu-system-x86_64" is not installed',
      }),
    findKernel: () => Promise.resolve(null),
  });
  assert.deepEqual(facts.tools, {});
  assert.deepEqual(facts.virt[Deno.build.arch as "x86_64"], {
    guestArch: Deno.build.arch,
    accelerator: null,
    why: 'Tool "qemu-system-x86_64" is not installed',
  });
  assert.deepEqual(facts.files, [{
    name: "linux-kernel",
    neededFor: "os-images",
    path: null,
    expected: "/boot/vmlinuz-*-amd64 with its modules",
  }]);
});

Deno.test("gatherHostFacts() with versions: false finds the tools without running them", async () => {
  const dir = await makeTmp("host-facts-presence-");
  try {
    // A tool that would hang if it were run.
    Deno.writeTextFileSync(`${dir}/hangs`, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    const facts = await gatherHostFacts({
      versions: false,
      tools: [],
      files: [],
      extraTools: ["hangs", "absent-tool"],
      path: dir,
      toolTimeoutMs: 100,
      probeAccelerator: () => Promise.resolve({ reason: "tool-missing", message: "no qemu" }),
      findKernel: () => Promise.resolve(null),
    });
    assert.deepEqual(facts.tools.hangs, {
      name: "hangs",
      neededFor: "tests",
      path: `${dir}/hangs`,
      version: null,
    });
    assert.equal(facts.tools["absent-tool"].path, null);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("fromProbe() rounds the measured TCG slowdown and keeps KVM's state", () => {
  const v = fromProbe("x86_64", {
    accelerator: "tcg",
    kvm: "unusable",
    why: "hangs",
    slowdown: "Measured: 7.6 s",
    bootMs: { tcg: 7600 },
    fromCache: true,
  });
  assert.deepEqual(v, {
    guestArch: "x86_64",
    accelerator: "tcg",
    kvm: "unusable",
    why: "hangs",
    slowdown: "Measured: 7.6 s",
    slowdownFactor: 8,
    fromCache: true,
  });
  const kvm = fromProbe("x86_64", {
    accelerator: "kvm",
    kvm: "usable",
    why: "booted",
    bootMs: { kvm: 400 },
    fromCache: false,
  });
  assert.equal(kvm.slowdownFactor, undefined);
});

Deno.test("foreignArch() emulates another architecture only when its QEMU is installed", () => {
  assert.equal(foreignArch("aarch64", "x86_64", null).accelerator, null);
  const v = foreignArch("aarch64", "x86_64", "/usr/bin/qemu-system-aarch64");
  assert.equal(v.accelerator, "tcg");
  assert.match(v.why, /cannot run a aarch64 guest on a x86_64 host/);
  assert.equal(v.slowdownFactor, undefined);
});

Deno.test("parseMeminfo() reads MemTotal and MemAvailable, else MemFree", () => {
  const text =
    "MemTotal:       24684092 kB\nMemFree:        23120576 kB\nMemAvailable:   24121976 kB\n";
  assert.deepEqual(parseMeminfo(text), { totalMiB: 24105, availableMiB: 23556 });
  assert.deepEqual(parseMeminfo("MemTotal: 2048 kB\nMemFree: 1024 kB\n"), {
    totalMiB: 2,
    availableMiB: 1,
  });
  assert.equal(parseMeminfo("nothing"), null);
});

Deno.test("parseVmStat() counts free, inactive, speculative and purgeable pages of macOS", () => {
  const text = `Mach Virtual Memory Statistics: (page size of 16384 bytes)
Pages free:                               12800.
Pages active:                            500000.
Pages inactive:                           51200.
Pages speculative:                         1000.
Pages throttled:                              0.
Pages wired down:                        100000.
Pages purgeable:                            200.
`;
  assert.deepEqual(parseVmStat(text, 17179869184), { totalMiB: 16384, availableMiB: 1018 });
  assert.equal(parseVmStat("garbage", 1), null);
});

Deno.test("parseDfPk() reads the last line of df -Pk, a file system name with spaces included", () => {
  const text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n" +
    "/dev/vda         264212084 26818676  79572236      26% /\n";
  assert.deepEqual(parseDfPk(text), { totalMiB: 258019, freeMiB: 77707 });
  const spaced = "Filesystem 1024-blocks Used Available Capacity Mounted on\n" +
    "map auto home 1048576 524288 524288 50% /System/Volumes/Data/home\n";
  assert.deepEqual(parseDfPk(spaced), { totalMiB: 1024, freeMiB: 512 });
  assert.equal(parseDfPk("df: /x: No such file or directory"), null);
});

Deno.test("parseOsRelease() unquotes values", () => {
  const r = parseOsRelease("PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nID=ubuntu\nID_LIKE=debian\nX='y'\n");
  assert.deepEqual(r, { PRETTY_NAME: "Ubuntu 24.04 LTS", ID: "ubuntu", ID_LIKE: "debian", X: "y" });
});

Deno.test("versionOf() finds the dotted version in each tool's first line", () => {
  assert.equal(
    versionOf("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"),
    "7.2.22",
  );
  assert.equal(versionOf("Packer v1.6.6"), "1.6.6");
  assert.equal(versionOf("kmod version 30"), "30");
  assert.equal(versionOf("*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***"), "1.5.4");
  assert.equal(
    versionOf("BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary."),
    "1.35.0",
  );
  assert.equal(versionOf("weird"), "weird");
});
