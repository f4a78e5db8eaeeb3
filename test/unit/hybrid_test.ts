import assert from "node:assert/strict";
import { type CloudBuilder, HybridDelegator, type HybridOptions } from "../../builders/hybrid.ts";
import type { PlacementHost } from "../../builders/placement.ts";
import { failure } from "../../engine/failure.ts";
import { buildGraph } from "../../engine/graph.ts";
import { cmd, fn, type Task } from "../../engine/task.ts";
import { keyPaths } from "../../builders/github_cloud.ts";

const tool = (name: string) => ({
  name,
  neededFor: "os-images" as const,
  path: `/usr/bin/${name}`,
  version: "1.0",
});

/** A Linux host where KVM does not work (TCG only), with every tool. */
const TCG_HOST: PlacementHost = {
  os: { kind: "linux", name: "Debian GNU/Linux 12", ids: ["debian"], kernel: "6.1", root: true },
  tools: { packer: tool("packer"), "qemu-system-x86_64": tool("qemu-system-x86_64") },
  memory: { totalMiB: 24_000, availableMiB: 20_000 },
  disk: null,
  virt: {
    x86_64: {
      guestArch: "x86_64",
      accelerator: "tcg",
      kvm: "unusable",
      why: "KVM unusable",
      slowdownFactor: 2,
    },
  },
};

const vmTask = (distro: string): Task[] => [
  { id: `iso:${distro}`, outputs: [`out/${distro}.iso`], action: cmd("true") },
  {
    id: `image:${distro}:packer`,
    deps: [`iso:${distro}`],
    needs: { vm: "x86_64", tools: ["packer", "qemu-system-x86_64"], memoryMiB: 1024 },
    outputs: [`out/${distro}.qcow2`],
    action: cmd("true"),
  },
  {
    id: `image:${distro}:compress`,
    deps: [`image:${distro}:packer`],
    outputs: [`out/${distro}.zst`],
    action: cmd("true"),
  },
];

function hybrid(
  o: Partial<HybridOptions> & { cloud: CloudBuilder | null },
  tasks = [...vmTask("a"), ...vmTask("b")],
) {
  const graph = buildGraph({ tasks, pools: {}, root: "/nonexistent" });
  const seen = { facts: 0, warnings: [] as string[], notes: [] as string[] };
  const d = new HybridDelegator({
    graph,
    targets: [],
    mode: "auto",
    facts: () => {
      seen.facts++;
      return Promise.resolve(TCG_HOST);
    },
    warn: (m) => seen.warnings.push(m),
    note: (m) => seen.notes.push(m),
    batchMs: 20,
    ...o,
  });
  return { d, graph, seen, task: (id: string) => graph.tasks.get(id)! };
}

Deno.test("HybridDelegator.place() runs tasks without needs here without gathering host facts", async () => {
  const { d, seen, task } = hybrid({ cloud: null });
  assert.equal(await d.place(task("iso:a")), "here");
  assert.equal(await d.place(task("image:a:compress")), "here");
  assert.equal(seen.facts, 0);
});

Deno.test("HybridDelegator.place() runs a VM task here slowly, warning once, when no cloud builder is set", async () => {
  const { d, seen, task } = hybrid({ cloud: null });
  assert.equal(await d.place(task("image:a:packer")), "here");
  assert.equal(await d.place(task("image:b:packer")), "here");
  assert.equal(seen.facts, 1, "host facts gathered once per build");
  assert.equal(seen.warnings.length, 2);
  assert.match(seen.warnings[0], /image:a:packer.*software emulation.*TCG ~2x slower/);
});

Deno.test("HybridDelegator.place() delegates a VM task under TCG when a cloud builder is set", async () => {
  const cloud: CloudBuilder = { name: "fake", build: () => Promise.resolve({ url: "u" }) };
  const { d, task } = hybrid({ cloud });
  assert.equal(await d.place(task("image:a:packer")), "elsewhere");
  const local = hybrid({ cloud, mode: "local" });
  assert.equal(await local.d.place(local.task("image:a:packer")), "here");
});

Deno.test("HybridDelegator.build() batches concurrent requests into one run of the targets behind them", async () => {
  const runs: { targets: readonly string[]; keys: Record<string, string> }[] = [];
  const cloud: CloudBuilder = {
    name: "fake",
    build(targets, keys, _signal, progress) {
      runs.push({ targets, keys: { ...keys } });
      progress("in progress");
      return Promise.resolve({ url: "https://example.invalid/runs/1" });
    },
  };
  const progress: string[] = [];
  const { d, seen, task } = hybrid({ cloud, progress: (id, t) => progress.push(`${id}: ${t}`) });
  const signal = new AbortController().signal;
  const results = await Promise.all([
    d.build(task("image:a:packer"), "k-a", signal),
    d.build(task("image:b:packer"), "k-b", signal),
  ]);
  assert.deepEqual(results, [null, null]);
  assert.equal(runs.length, 1, "one run for both");
  assert.deepEqual(runs[0].targets, ["image:a:compress", "image:b:compress"]);
  assert.deepEqual(runs[0].keys, { "image:a:packer": "k-a", "image:b:packer": "k-b" });
  assert.deepEqual(progress.sort(), [
    "image:a:packer: in progress",
    "image:b:packer: in progress",
  ]);
  assert.match(seen.notes.at(-1)!, /fake finished: https:\/\/example.invalid\/runs\/1/);
});

Deno.test("HybridDelegator.build() gives every task of a failed run the run's failure", async () => {
  const cloud: CloudBuilder = {
    name: "fake",
    build: () => Promise.resolve(failure("delegation-failed", 'Run 7 failed at step "build"')),
  };
  const { d, task } = hybrid({ cloud });
  const signal = new AbortController().signal;
  const [a, b] = await Promise.all([
    d.build(task("image:a:packer"), "k-a", signal),
    d.build(task("image:b:packer"), "k-b", signal),
  ]);
  assert.equal(a?.reason, "delegation-failed");
  assert.equal(b?.message, 'Run 7 failed at step "build"');
});

Deno.test("HybridDelegator.dispatchTargets() keeps the build's own targets that need the delegated tasks", () => {
  const { d } = hybrid({ cloud: null, targets: ["image:b:compress", "iso:a"] });
  assert.deepEqual(d.dispatchTargets(["image:b:packer"]), ["image:b:compress"]);
  // Nothing among the targets depends on it: the task itself.
  assert.deepEqual(d.dispatchTargets(["image:a:packer"]), ["image:a:packer"]);
});

Deno.test("keyPaths() lists the inputs and action modules behind the targets, and nothing else", () => {
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const graph = buildGraph({
    root,
    pools: {},
    tasks: [
      { id: "a", inputs: ["src/*.txt"], outputs: ["out/a"], action: cmd("true") },
      {
        id: "b",
        deps: ["a"],
        outputs: ["out/b"],
        action: fn(new URL("../../tasks/host_probe.ts", import.meta.url).href, () => {}),
      },
      { id: "other", inputs: ["unrelated/**"], outputs: ["out/o"], action: cmd("true") },
    ],
  });
  const paths = keyPaths(graph, ["b"]);
  assert.ok(paths.includes("src/*.txt"));
  assert.ok(paths.includes("tasks/host_probe.ts"));
  assert.ok(paths.includes("engine/task.ts"), "modules the action module imports");
  assert.ok(!paths.includes("unrelated/**"), "not a task the targets need");
});
