import assert from "node:assert/strict";
import { doctorReport, type DoctorRow, renderDoctor } from "../../builders/doctor.ts";
import type { HostFacts, ToolFact, VirtFact } from "../../builders/host_facts.ts";
import type { NeededFor } from "../../builders/host_tools.ts";
import { makeTmp, removeTree, REPO } from "../rig/workspace.ts";
import { strayVmProcesses } from "../rig/vm_processes.ts";

const KVM: VirtFact = { guestArch: "x86_64", accelerator: "kvm", kvm: "usable", why: "booted" };
const TCG: VirtFact = {
  guestArch: "x86_64",
  accelerator: "tcg",
  kvm: "unusable",
  why: "KVM is unusable: guests hang",
  slowdown: "Measured: TCG booted the probe VM in 2.1 s",
  slowdownFactor: 2,
  fromCache: true,
};
const NO_ARM: VirtFact = { guestArch: "aarch64", accelerator: null, why: "no qemu" };

function tool(name: string, neededFor: NeededFor, version: string | null = "1.2.3"): ToolFact {
  return { name, neededFor, path: version === null ? null : `/usr/bin/${name}`, version };
}

/** A made-up Debian host with everything installed, KVM working; `o` overrides parts. */
function facts(o: Partial<HostFacts> & { absent?: string[] } = {}): HostFacts {
  const tools: Record<string, ToolFact> = {};
  const list: [string, NeededFor][] = [
    ["packer", "os-images"],
    ["qemu-img", "os-images"],
    ["qemu-system-aarch64", "other-arch"],
    ["ruby", "release"],
    ["lintian", "tests"],
  ];
  for (const [name, neededFor] of list) {
    tools[name] = tool(name, neededFor, o.absent?.includes(name) ? null : "1.2.3");
  }
  return {
    os: { kind: "linux", name: "Debian 12", ids: ["debian"], kernel: "6.1.0", root: false },
    arch: "x86_64",
    cores: 2,
    memory: { totalMiB: 8192, availableMiB: 6144 },
    disk: { path: "/w", freeMiB: 51200, totalMiB: 102400 },
    tools,
    files: [{ name: "linux-kernel", neededFor: "os-images", path: "/boot/vmlinuz-6.1.0-amd64" }],
    virt: { x86_64: KVM, aarch64: NO_ARM },
    gatherMs: 5,
    ...o,
  };
}

const row = (rows: readonly DoctorRow[], what: string) => rows.find((r) => r.what === what)!;

Deno.test("doctorReport() exits 0 with every row ok when everything is here and KVM works", () => {
  const r = doctorReport(facts());
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.missingForTests, []);
  assert.equal(r.install.command, null);
  assert.deepEqual(row(r.rows, "x86_64 VMs"), { what: "x86_64 VMs", value: "KVM", status: "ok" });
  assert.deepEqual(row(r.rows, "memory"), {
    what: "memory",
    value: "6.0 GiB available of 8.0 GiB",
    status: "ok",
  });
  assert.equal(row(r.rows, "disk").value, "50.0 GiB free of 100.0 GiB at /w");
  assert.deepEqual(row(r.rows, "packer"), {
    what: "packer",
    value: "1.2.3",
    status: "ok",
    neededFor: "os-images",
  });
  assert.deepEqual(r.notes, []);
  assert.match(renderDoctor(r), /\nEverything the pipelines need is here$/);
});

Deno.test("doctorReport() exits 0 but marks VMs slow, with the probe's reason, when KVM is unusable", () => {
  const r = doctorReport(facts({ virt: { x86_64: TCG, aarch64: NO_ARM } }));
  assert.equal(r.exitCode, 0);
  assert.deepEqual(row(r.rows, "x86_64 VMs"), {
    what: "x86_64 VMs",
    value: "TCG (KVM unusable, ~2x slower, probe cached)",
    status: "slow",
  });
  assert.deepEqual(r.notes, [
    "x86_64 VMs: KVM is unusable: guests hang. Measured: TCG booted the probe VM in 2.1 s",
  ]);
  assert.match(
    renderDoctor(r),
    /\nEverything the pipelines need is here \(VMs run under software emulation\)$/,
  );
});

Deno.test("doctorReport() exits 1 and prints the apt command when a tool the pipelines need is missing", () => {
  const r = doctorReport(facts({ absent: ["packer", "qemu-img", "lintian"] }));
  assert.equal(r.exitCode, 1);
  assert.deepEqual(r.missing, ["packer", "qemu-img"]);
  assert.deepEqual(r.missingForTests, ["lintian"]);
  assert.equal(r.install.command, "sudo apt-get install -y lintian packer qemu-utils");
  assert.deepEqual(row(r.rows, "packer"), {
    what: "packer",
    value: "not installed",
    status: "missing",
    neededFor: "os-images",
  });
  const text = renderDoctor(r);
  assert.match(text, /\nMissing: the pipelines need packer, qemu-img; the tests need lintian\n/);
  assert.match(text, /\nInstall with: sudo apt-get install -y lintian packer qemu-utils\n/);
  assert.match(
    text,
    /\nThis host cannot run every pipeline: install what is missing, or build elsewhere$/,
  );
});

Deno.test("doctorReport() exits 0 when only tools of the tests are missing, and still says how to install them", () => {
  const r = doctorReport(facts({ absent: ["lintian"], os: { ...facts().os, root: true } }));
  assert.equal(r.exitCode, 0);
  assert.equal(r.install.command, "apt-get install -y lintian");
  assert.match(
    renderDoctor(r),
    /Missing: the tests need lintian\nInstall with: apt-get install -y lintian\n/,
  );
});

Deno.test("doctorReport() shows another architecture's QEMU as absent, never missing", () => {
  const r = doctorReport(facts({ absent: ["qemu-system-aarch64"] }));
  assert.equal(r.exitCode, 0);
  assert.equal(row(r.rows, "qemu-system-aarch64").status, "absent");
  assert.deepEqual(row(r.rows, "aarch64 VMs"), {
    what: "aarch64 VMs",
    value: "not available (no qemu-system-aarch64)",
    status: "absent",
  });
  assert.equal(r.install.command, null);
});

Deno.test("doctorReport() exits 1 when no VM of the host's architecture can run, and says why", () => {
  const broken: VirtFact = {
    guestArch: "x86_64",
    accelerator: null,
    why: "A probe VM did not boot",
  };
  const r = doctorReport(facts({ virt: { x86_64: broken } }));
  assert.equal(r.exitCode, 1);
  assert.equal(row(r.rows, "x86_64 VMs").status, "failed");
  assert.deepEqual(r.notes, ["x86_64 VMs: A probe VM did not boot"]);
});

Deno.test("doctorReport() fails a needed tool that does not answer its version, and a missing file", () => {
  const hung: ToolFact = {
    ...tool("packer", "os-images"),
    version: null,
    error: "no answer in 5000 ms",
  };
  const r = doctorReport(facts({
    tools: { packer: hung },
    files: [{ name: "isolinux.bin", neededFor: "os-images", path: null, expected: "/usr/lib/x" }],
  }));
  assert.equal(r.exitCode, 1);
  assert.deepEqual(row(r.rows, "packer"), {
    what: "packer",
    value: "/usr/bin/packer: no answer in 5000 ms",
    status: "failed",
    neededFor: "os-images",
  });
  assert.equal(row(r.rows, "isolinux.bin").value, "not found (/usr/lib/x)");
  assert.deepEqual(r.missing, ["isolinux.bin"]);
  assert.equal(r.install.command, "sudo apt-get install -y isolinux");
});

Deno.test("doctorReport() marks low memory and disk, and unknown ones, without failing", () => {
  const r = doctorReport(facts({
    memory: { totalMiB: 2048, availableMiB: 1000 },
    disk: { path: "/w", freeMiB: 2048, totalMiB: 4096 },
  }));
  assert.equal(r.exitCode, 0);
  assert.equal(row(r.rows, "memory").status, "low");
  assert.equal(row(r.rows, "disk").status, "low");
  const unknown = doctorReport(facts({ memory: null, disk: null }));
  assert.equal(row(unknown.rows, "memory").value, "unknown (could not be read)");
  assert.equal(unknown.exitCode, 0);
});

Deno.test("doctorReport() on macOS prints brew, and lists what no formula provides", () => {
  const mac = { kind: "darwin", name: "macOS 14.5", ids: ["macos"], kernel: "23.5.0", root: false };
  const r = doctorReport(facts({ os: mac, absent: ["packer", "lintian"], files: [] }));
  assert.equal(r.install.command, "brew install hashicorp/tap/packer");
  assert.match(renderDoctor(r), /\nAlso no brew package is known for: lintian\n/);
});

Deno.test("renderDoctor() aligns the table's columns under a header", () => {
  const lines = renderDoctor(doctorReport(facts())).split("\n");
  assert.match(lines[0], /^what +value +status +needed for$/);
  assert.match(lines[1], /^-+ +-+ +-+ +-+$/);
  const col = lines[0].indexOf("status");
  for (const l of lines.slice(2, 2 + 11)) {
    assert.match(l.slice(col), /^(ok|missing|absent|slow|low|failed)\b/, l);
  }
});

Deno.test("doctorCommand() reports this machine: cold it boots the probe VM, warm it answers from the cache", async () => {
  const dir = await makeTmp("doctor-");
  const doctor = (json: boolean) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { doctorCommand } from "${REPO}/cli/doctor_cmd.ts";` +
        `Deno.exit(await doctorCommand({ json: Deno.args.includes("--json") }));`,
        ...(json ? ["--json"] : []),
      ],
      cwd: dir,
      env: { KILN_CACHE_DIR: `${dir}/cache`, NO_COLOR: "1" },
      stdin: "null",
    }).output();
  const dec = new TextDecoder();
  try {
    const cold = await doctor(true);
    const report = JSON.parse(dec.decode(cold.stdout));
    assert.equal(cold.code, report.exitCode, dec.decode(cold.stderr));
    assert.equal(report.facts.disk.path, dir, "the disk of the folder doctor runs in");
    assert.equal(report.facts.virt.x86_64.fromCache, false);
    assert.ok(report.facts.virt.x86_64.accelerator, report.facts.virt.x86_64.why);
    assert.ok(
      Deno.statSync(`${dir}/cache/accel-probe.json`).isFile,
      "the probe's answer is cached",
    );
    assert.equal(cold.code, report.missing.length ? 1 : 0, "exit 1 only for what pipelines need");
    assert.deepEqual(strayVmProcesses(dir), []);

    const warm = await doctor(false);
    const text = dec.decode(warm.stdout);
    assert.equal(warm.code, cold.code);
    assert.match(text, /^what +value +status +needed for\n/);
    const virt = report.facts.virt.x86_64;
    const expected = virt.accelerator === "tcg"
      ? /\nx86_64 VMs +TCG \(.*probe cached\) +slow\n/
      : /\nx86_64 VMs +KVM, probe cached +ok\n/;
    assert.match(text, expected);
    assert.match(
      text,
      new RegExp(
        `\\ngit +${report.facts.tools.git.version.replaceAll(".", "\\.")} +ok +release\\n`,
      ),
    );
  } finally {
    await removeTree(dir);
  }
});
