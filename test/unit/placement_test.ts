import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import { ConfigError } from "../../engine/failure.ts";
import type { Task, TaskNeeds } from "../../engine/task.ts";
import { cmd } from "../../engine/task.ts";
import type { ToolFact, VirtFact } from "../../builders/host_facts.ts";
import {
  neededTools,
  parseBuilderMode,
  type Placement,
  type PlacementHost,
  placementSuffix,
  placeTask,
  placeTasks,
} from "../../builders/placement.ts";

const DEBIAN = { kind: "linux", name: "Debian 12", ids: ["debian"], kernel: "6.1", root: false };

const TCG_X86: VirtFact = {
  guestArch: "x86_64",
  accelerator: "tcg",
  kvm: "unusable",
  why: "KVM is unusable: guests hang",
  slowdown: "Measured: TCG booted the probe VM in 8.0 s. Assumed...",
  slowdownFactor: 8,
};
const KVM_X86: VirtFact = { guestArch: "x86_64", accelerator: "kvm", kvm: "usable", why: "ok" };
const NO_ARM: VirtFact = {
  guestArch: "aarch64",
  accelerator: null,
  why: 'No "qemu-system-aarch64" is installed, so no aarch64 VM can run here',
};

/** A made-up host: these tools installed, the rest of `absent` missing. */
function host(o: {
  installed?: string[];
  absent?: string[];
  virt?: PlacementHost["virt"];
  memory?: PlacementHost["memory"];
  disk?: PlacementHost["disk"];
  os?: PlacementHost["os"];
} = {}): PlacementHost {
  const tools: Record<string, ToolFact> = {};
  for (const name of o.installed ?? ["packer", "qemu-system-x86_64", "qemu-img"]) {
    tools[name] = { name, neededFor: "os-images", path: `/usr/bin/${name}`, version: "1.0" };
  }
  for (const name of o.absent ?? ["qemu-system-aarch64"]) {
    tools[name] = { name, neededFor: "os-images", path: null, version: null };
  }
  return {
    os: o.os ?? DEBIAN,
    tools,
    memory: o.memory === undefined ? { totalMiB: 8192, availableMiB: 6000 } : o.memory,
    disk: o.disk === undefined ? { path: "/w", freeMiB: 50_000, totalMiB: 100_000 } : o.disk,
    virt: o.virt ?? { x86_64: TCG_X86, aarch64: NO_ARM },
  };
}

function task(id: string, needs?: TaskNeeds): Task {
  return { id, ...(needs ? { needs } : {}), action: cmd("true") };
}

const PACKER = task("image:demo:packer", {
  vm: "x86_64",
  tools: ["packer", "qemu-system-x86_64", "qemu-img"],
  memoryMiB: 768,
});

function placed(p: Placement | Failure): Placement {
  assert.ok(!("reason" in p), `expected a placement, got ${"message" in p ? p.message : ""}`);
  return p as Placement;
}

function failed(p: Placement | Failure): Failure {
  assert.ok("reason" in p, `expected a failure, got ${JSON.stringify(p)}`);
  return p as Failure;
}

const NO_CLOUD = { cloudAvailable: false };
const CLOUD = { cloudAvailable: true };

Deno.test("placeTask() runs a task without needs locally in every mode, with no dry-run suffix", () => {
  for (const mode of ["auto", "local", "cloud"] as const) {
    for (const t of [task("a"), task("b", {})]) {
      const p = placed(placeTask(t, host(), mode, CLOUD));
      assert.deepEqual(p, {
        task: t.id,
        where: "local",
        why: "needs nothing of the host",
        declared: false,
      });
      assert.equal(placementSuffix(p), "");
    }
  }
});

Deno.test("placeTask() runs a VM task locally when KVM runs its guests, even with a cloud builder", () => {
  const h = host({ virt: { x86_64: KVM_X86, aarch64: NO_ARM } });
  for (const mode of ["auto", "local"] as const) {
    const p = placed(placeTask(PACKER, h, mode, CLOUD));
    assert.equal(p.where, "local");
    assert.equal(p.why, "KVM runs x86_64 guests");
    assert.equal(p.slowdown, undefined);
    assert.equal(placementSuffix(p), " (local: KVM runs x86_64 guests)");
  }
});

Deno.test("placeTask() runs an aarch64 VM task locally when HVF runs its guests", () => {
  const hvf: VirtFact = { guestArch: "aarch64", accelerator: "hvf", why: "HVF" };
  const h = host({
    installed: ["qemu-system-aarch64"],
    absent: [],
    virt: { aarch64: hvf },
    os: { ...DEBIAN, kind: "darwin", ids: ["macos"] },
  });
  const p = placed(
    placeTask(task("arm", { vm: "aarch64", tools: ["qemu-system-aarch64"] }), h, "auto", NO_CLOUD),
  );
  assert.equal(p.where, "local");
  assert.equal(p.why, "HVF runs aarch64 guests");
});

Deno.test("placeTask() runs a VM task locally but slowly under TCG when auto has no cloud builder", () => {
  const p = placed(placeTask(PACKER, host(), "auto", NO_CLOUD));
  assert.deepEqual(p, {
    task: "image:demo:packer",
    where: "local-slow",
    why: "KVM unusable",
    slowdown: "TCG ~8x slower",
    declared: true,
  });
  assert.equal(
    `image:demo:packer: would run${placementSuffix(p)}`,
    "image:demo:packer: would run (local-slow: KVM unusable, TCG ~8x slower)",
  );
});

Deno.test("placeTask() delegates a VM task under TCG when auto has a cloud builder", () => {
  const p = placed(placeTask(PACKER, host(), "auto", CLOUD));
  assert.equal(p.where, "delegate");
  assert.equal(p.why, "KVM unusable, TCG ~8x slower here; a cloud builder is configured");
  assert.equal(p.slowdown, undefined);
});

Deno.test("placeTask() never delegates with --builder local: TCG runs local-slow even with a cloud builder", () => {
  const p = placed(placeTask(PACKER, host(), "local", CLOUD));
  assert.equal(p.where, "local-slow");
  assert.equal(p.slowdown, "TCG ~8x slower");
});

Deno.test("placeTask() says why a VM is emulated when KVM is absent or the arch is foreign", () => {
  const noKvm: VirtFact = { ...TCG_X86, kvm: "absent" };
  assert.equal(
    placed(placeTask(PACKER, host({ virt: { x86_64: noKvm } }), "auto", NO_CLOUD)).why,
    "no KVM",
  );
  const foreign: VirtFact = {
    guestArch: "aarch64",
    accelerator: "tcg",
    why: "emulated",
    slowdown: "Not measured",
  };
  const h = host({ installed: ["qemu-system-aarch64"], absent: [], virt: { aarch64: foreign } });
  const p = placed(placeTask(task("arm", { vm: "aarch64" }), h, "auto", NO_CLOUD));
  assert.equal(p.where, "local-slow");
  assert.equal(p.why, "no hardware virtualization for aarch64 guests");
  assert.equal(p.slowdown, "TCG, slowdown not measured");
});

Deno.test("placeTask() delegates every task with needs under --builder cloud, even when KVM works", () => {
  const h = host({ virt: { x86_64: KVM_X86 } });
  const p = placed(placeTask(PACKER, h, "cloud", CLOUD));
  assert.equal(p.where, "delegate");
  assert.equal(p.why, "--builder cloud");
  const compress = placed(placeTask(task("c", { tools: ["qemu-img"] }), h, "cloud", CLOUD));
  assert.equal(compress.where, "delegate");
  assert.equal(placementSuffix(compress), " (delegate: --builder cloud)");
});

Deno.test("placeTask() fails with builder-unavailable under --builder cloud when no cloud builder is configured", () => {
  const f = failed(placeTask(PACKER, host(), "cloud", { cloudAvailable: false }));
  assert.equal(f.reason, "builder-unavailable");
  assert.equal(
    f.message,
    'Task "image:demo:packer" cannot be delegated with --builder cloud: no cloud builder is ' +
      "configured; configure a cloud builder (a GitHub repository, a token and a remote cache), " +
      "or use --builder auto",
  );
  const custom = failed(
    placeTask(PACKER, host(), "cloud", { cloudAvailable: false, cloudHint: "set KILN_X" }),
  );
  assert.match(custom.message, /configured; set KILN_X, or use --builder auto$/);
});

Deno.test("placeTask() delegates a task whose tool is missing when auto has a cloud builder", () => {
  const h = host({ installed: ["qemu-system-x86_64", "qemu-img"], absent: ["packer"] });
  const p = placed(placeTask(PACKER, h, "auto", CLOUD));
  assert.equal(p.where, "delegate");
  assert.equal(p.why, 'this host lacks tool "packer"');
});

Deno.test("placeTask() fails with builder-cannot-run and the apt command when a tool is missing and auto has no cloud builder", () => {
  const h = host({ installed: ["qemu-system-x86_64"], absent: ["packer", "qemu-img"] });
  const f = failed(placeTask(PACKER, h, "auto", NO_CLOUD));
  assert.equal(f.reason, "builder-cannot-run");
  assert.equal(
    f.message,
    'Task "image:demo:packer" cannot run on this host: it needs tool "packer" and tool ' +
      '"qemu-img"; run "sudo apt-get install -y packer qemu-utils", or configure a cloud ' +
      "builder (a GitHub repository, a token and a remote cache)",
  );
});

Deno.test("placeTask() fails under --builder local when a tool is missing, even with a cloud builder", () => {
  const h = host({
    installed: ["qemu-system-x86_64", "qemu-img"],
    absent: ["packer"],
    os: { ...DEBIAN, root: true },
  });
  const f = failed(placeTask(PACKER, h, "local", CLOUD));
  assert.equal(f.reason, "builder-cannot-run");
  assert.equal(
    f.message,
    'Task "image:demo:packer" cannot run on this host (--builder local): it needs tool ' +
      '"packer"; run "apt-get install -y packer", or use --builder auto with a cloud builder',
  );
});

Deno.test("placeTask() names the Homebrew command on macOS", () => {
  const mac = { kind: "darwin", name: "macOS 14", ids: ["macos"], kernel: "23", root: false };
  const h = host({ installed: ["qemu-img"], absent: ["packer"], os: mac });
  const f = failed(placeTask(task("p", { tools: ["packer"] }), h, "local", NO_CLOUD));
  assert.match(f.message, /run "brew install hashicorp\/tap\/packer"/);
});

Deno.test("placeTask() asks the user to install a tool no package is known for", () => {
  const h = host({ installed: [], absent: ["frobnicate"] });
  const f = failed(placeTask(task("t", { tools: ["frobnicate"] }), h, "auto", NO_CLOUD));
  assert.match(f.message, /needs tool "frobnicate"; install "frobnicate", or configure/);
});

Deno.test("placeTask() fails when free memory or disk is short, and delegates it when it can", () => {
  const h = host({
    memory: { totalMiB: 1024, availableMiB: 500 },
    disk: { path: "/w", freeMiB: 100, totalMiB: 1000 },
  });
  const big = task("big", { memoryMiB: 768, diskMiB: 2000 });
  const f = failed(placeTask(big, h, "local", NO_CLOUD));
  assert.equal(f.reason, "builder-cannot-run");
  assert.equal(
    f.message,
    'Task "big" cannot run on this host (--builder local): it needs 768 MiB of free memory ' +
      "(500 MiB available) and 2000 MiB of free disk (100 MiB free); use --builder auto with " +
      "a cloud builder",
  );
  assert.equal(placed(placeTask(big, h, "auto", CLOUD)).where, "delegate");
  const enough = task("small", { memoryMiB: 400, diskMiB: 50 });
  const p = placed(placeTask(enough, h, "auto", CLOUD));
  assert.deepEqual([p.where, p.why], ["local", "this host has what it needs"]);
});

Deno.test("placeTask() does not hold a task back when memory and disk could not be read", () => {
  const h = host({ memory: null, disk: null });
  assert.equal(
    placed(placeTask(task("m", { memoryMiB: 1e6 }), h, "local", NO_CLOUD)).where,
    "local",
  );
});

Deno.test("placeTask() fails for a VM of an architecture no QEMU here runs, naming its package", () => {
  const arm = task("image:arm:packer", { vm: "aarch64" });
  const f = failed(placeTask(arm, host(), "auto", NO_CLOUD));
  assert.equal(f.reason, "builder-cannot-run");
  assert.equal(
    f.message,
    'Task "image:arm:packer" cannot run on this host: it needs an aarch64 VM (No ' +
      '"qemu-system-aarch64" is installed, so no aarch64 VM can run here); run "sudo apt-get ' +
      'install -y qemu-system-arm", or configure a cloud builder (a GitHub repository, a token ' +
      "and a remote cache)",
  );
  assert.equal(placed(placeTask(arm, host(), "auto", CLOUD)).where, "delegate");
});

Deno.test("placeTask() throws when a needed tool is not in the host facts (a caller's bug)", () => {
  assert.throws(
    () => placeTask(task("t", { tools: ["unchecked"] }), host(), "auto", NO_CLOUD),
    /tool "unchecked" of task "t" was not in the host facts/,
  );
});

Deno.test("placeTasks() places a build, collects failures and warns once per emulated architecture", () => {
  const tasks = [
    task("iso:demo:fetch"),
    PACKER,
    task("image:demo:validate", { vm: "x86_64", tools: ["qemu-img"] }),
    task("image:arm:packer", { vm: "aarch64" }),
  ];
  const plan = placeTasks(tasks, host(), "auto", NO_CLOUD);
  assert.deepEqual(
    [...plan.placements.values()].map((p) => [p.task, p.where]),
    [
      ["iso:demo:fetch", "local"],
      ["image:demo:packer", "local-slow"],
      ["image:demo:validate", "local-slow"],
    ],
  );
  assert.deepEqual(plan.failures.map((f) => f.reason), ["builder-cannot-run"]);
  assert.match(plan.failures[0].message, /^Task "image:arm:packer"/);
  assert.deepEqual(plan.warnings, [
    'Tasks "image:demo:packer", "image:demo:validate" run their x86_64 VM under software ' +
    "emulation (KVM unusable): Measured: TCG booted the probe VM in 8.0 s. Assumed...",
  ]);
  const one = placeTasks([PACKER], host(), "local", NO_CLOUD);
  assert.match(one.warnings[0], /^Task "image:demo:packer" runs its x86_64 VM under software/);
  assert.deepEqual(placeTasks([PACKER], host(), "auto", CLOUD).warnings, []);
});

Deno.test("neededTools() lists every tool the tasks' needs name, once, sorted", () => {
  assert.deepEqual(
    neededTools([PACKER, task("c", { tools: ["qemu-img", "zstd"] }), task("x")]),
    ["packer", "qemu-img", "qemu-system-x86_64", "zstd"],
  );
});

Deno.test("parseBuilderMode() accepts auto, local and cloud, defaults to auto, and rejects the rest", () => {
  assert.equal(parseBuilderMode(undefined), "auto");
  for (const m of ["auto", "local", "cloud"]) assert.equal(parseBuilderMode(m), m);
  assert.throws(() => parseBuilderMode("laptop"), (e) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, 'Builder "laptop" is unknown: use --builder auto, local or cloud');
    return true;
  });
  assert.throws(() => parseBuilderMode(""), ConfigError);
});

Deno.test("placeTasks() runs the OS-image pipeline's VM steps local-slow under TCG and its compress step locally", async () => {
  const { osImageTasks } = await import("../../tasks/os_images.ts");
  const tasks = osImageTasks().tasks.filter((t) => t.id.startsWith("image:demo:"));
  const plan = placeTasks(tasks, host(), "auto", NO_CLOUD);
  assert.deepEqual(plan.failures, []);
  assert.deepEqual(
    [...plan.placements.values()].map((p) => `${p.task}: ${p.where}${placementSuffix(p)}`),
    [
      "image:demo:packer: local-slow (local-slow: KVM unusable, TCG ~8x slower)",
      "image:demo:validate: local-slow (local-slow: KVM unusable, TCG ~8x slower)",
      "image:demo:compress: local (local: this host has what it needs)",
    ],
  );
  const noPacker = host({ installed: ["qemu-system-x86_64", "qemu-img"], absent: ["packer"] });
  const f = placeTasks(tasks, noPacker, "local", NO_CLOUD).failures;
  assert.equal(f.length, 1);
  assert.match(
    f[0].message,
    /^Task "image:demo:packer" cannot run on this host \(--builder local\): it needs tool "packer"/,
  );
});
