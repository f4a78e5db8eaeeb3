import assert from "node:assert/strict";
import { LocalProcessRunner } from "../../builders/local.ts";
import { type BuildSummary, runBuild } from "../../engine/build.ts";
import { DELEGATION_NO_RESULT, type Delegator } from "../../engine/delegator.ts";
import { failure } from "../../engine/failure.ts";
import { buildGraph } from "../../engine/graph.ts";
import { LocalStore } from "../../engine/store.ts";
import { cmd, type Task } from "../../engine/task.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/** Two workspaces of the same sources ("here" and "there") sharing one cache, as a laptop and a
 * CI runner share a remote cache. Commands append their task id to `<workspace>.runs`. */
async function withTwo(
  body: (
    t: {
      here: string;
      there: string;
      store: LocalStore;
      runs: (ws: string) => string[];
      build: (
        ws: string,
        tasks: Task[],
        delegator?: Delegator,
        alsoStoreAs?: Map<string, string>,
      ) => Promise<BuildSummary>;
    },
  ) => Promise<void>,
) {
  const dir = await makeTmp("delegator");
  const here = `${dir}/here`, there = `${dir}/there`;
  for (const ws of [here, there]) {
    Deno.mkdirSync(`${ws}/src`, { recursive: true });
    Deno.writeTextFileSync(`${ws}/src/in.txt`, "hello\n");
  }
  const store = new LocalStore(`${dir}/cache`);
  const runs = (ws: string) => {
    try {
      return Deno.readTextFileSync(`${ws}.runs`).split("\n").filter(Boolean);
    } catch {
      return [];
    }
  };
  const build = (
    ws: string,
    tasks: Task[],
    delegator?: Delegator,
    alsoStoreAs?: Map<string, string>,
  ) =>
    runBuild(buildGraph({ tasks, pools: {}, root: ws }), {
      targets: [],
      jobs: 2,
      keepGoing: false,
      store,
      runner: new LocalProcessRunner(),
      env: () => undefined,
      delegator,
      alsoStoreAs,
    });
  try {
    await body({ here, there, store, runs, build });
  } finally {
    await removeTree(dir);
  }
}

const TASKS: Task[] = [
  {
    id: "prep",
    inputs: ["src/in.txt"],
    outputs: ["out/prep.txt"],
    action: cmd(
      'tr a-z A-Z < src/in.txt > out/prep.txt && echo prep >> "../$(basename "$PWD").runs"',
    ),
  },
  {
    id: "vm",
    deps: ["prep"],
    outputs: ["out/vm.txt"],
    needs: { vm: "x86_64" },
    action: cmd('rev out/prep.txt > out/vm.txt && echo vm >> "../$(basename "$PWD").runs"'),
  },
  {
    id: "pack",
    deps: ["vm"],
    outputs: ["out/pack.txt"],
    action: cmd('wc -c < out/vm.txt > out/pack.txt && echo pack >> "../$(basename "$PWD").runs"'),
  },
];

const statuses = (s: BuildSummary) => Object.fromEntries(s.outcomes.map((o) => [o.id, o.status]));

Deno.test("runBuild() restores a delegated task built elsewhere under the same key when the delegator places it there", async () => {
  await withTwo(async ({ here, there, runs, build }) => {
    const asked: { id: string; key: string }[] = [];
    const delegator: Delegator = {
      place: (t) => Promise.resolve(t.needs?.vm !== undefined ? "elsewhere" : "here"),
      async build(task, key) {
        asked.push({ id: task.id, key });
        const s = await build(there, TASKS); // the other machine builds the same targets
        assert.equal(s.counts.failed, 0);
        return null;
      },
    };
    const s = await build(here, TASKS, delegator);
    assert.deepEqual(statuses(s), { prep: "ran", vm: "cached", pack: "cached" });
    assert.deepEqual(asked.map((a) => a.id), ["vm"], "asked once, for the task placed elsewhere");
    assert.deepEqual(runs(here), ["prep"], "the VM task never ran here");
    assert.deepEqual(runs(there), ["prep", "vm", "pack"]);
    assert.equal(Deno.readTextFileSync(`${here}/out/vm.txt`), "OLLEH\n");
    assert.equal(s.outcomes.find((o) => o.id === "vm")!.reasons.at(-1), "built elsewhere");

    const again = await build(here, TASKS, delegator);
    assert.deepEqual(statuses(again), { prep: "fresh", vm: "fresh", pack: "fresh" });
    assert.equal(asked.length, 1, "a fresh task is not delegated again");
  });
});

Deno.test("runBuild() does not delegate a task whose result is already cached", async () => {
  await withTwo(async ({ here, there, runs, build }) => {
    await build(there, TASKS);
    let asked = 0;
    const s = await build(here, TASKS, {
      place: () => Promise.resolve("elsewhere"),
      build: () => {
        asked++;
        return Promise.resolve(null);
      },
    });
    assert.equal(asked, 0, "every result is in the shared cache");
    assert.deepEqual(statuses(s), { prep: "cached", vm: "cached", pack: "cached" });
    assert.deepEqual(runs(here), []);
  });
});

Deno.test("runBuild() fails a delegated task with the delegator's failure and skips its dependents", async () => {
  await withTwo(async ({ here, runs, build }) => {
    const s = await build(here, TASKS, {
      place: (t) => Promise.resolve(t.id === "vm" ? "elsewhere" : "here"),
      build: () =>
        Promise.resolve(failure("delegation-failed", 'The cloud build failed at step "build"')),
    });
    assert.deepEqual(statuses(s), { prep: "ran", vm: "failed", pack: "skipped" });
    assert.equal(s.outcomes.find((o) => o.id === "vm")!.failure?.reason, "delegation-failed");
    assert.deepEqual(runs(here), ["prep"]);
  });
});

Deno.test("runBuild() fails with delegation-no-result when the other machine left nothing under the key", async () => {
  await withTwo(async ({ here, build }) => {
    const s = await build(here, TASKS, {
      place: (t) => Promise.resolve(t.id === "vm" ? "elsewhere" : "here"),
      build: () => Promise.resolve(null),
    });
    const vm = s.outcomes.find((o) => o.id === "vm")!;
    assert.equal(vm.status, "failed");
    assert.equal(vm.failure?.reason, DELEGATION_NO_RESULT);
    assert.match(vm.failure!.message, /same remote cache.*--builder local$/);
  });
});

Deno.test("runBuild() stores a result under the delegating machine's key too when alsoStoreAs names it", async () => {
  await withTwo(async ({ here, there, runs, build }) => {
    // The two machines compute different keys for "vm" (as with another packer version).
    const on = (host: string) => TASKS.map((t) => t.id === "vm" ? { ...t, params: { host } } : t);
    const s = await build(here, on("laptop"), {
      place: (t) => Promise.resolve(t.id === "vm" ? "elsewhere" : "here"),
      async build(task, key) {
        const ci = await build(there, on("ci"), undefined, new Map([[task.id, key]]));
        assert.equal(ci.counts.failed, 0);
        return null;
      },
    });
    assert.deepEqual(statuses(s), { prep: "ran", vm: "cached", pack: "cached" });
    assert.deepEqual(runs(here), ["prep"]);
    assert.deepEqual(runs(there), ["prep", "vm", "pack"]);
  });
});

Deno.test("runBuild() without alsoStoreAs leaves a differently keyed delegated task unrestorable", async () => {
  await withTwo(async ({ here, there, build }) => {
    const on = (host: string) => TASKS.map((t) => t.id === "vm" ? { ...t, params: { host } } : t);
    const s = await build(here, on("laptop"), {
      place: (t) => Promise.resolve(t.id === "vm" ? "elsewhere" : "here"),
      build: async () => (await build(there, on("ci")), null),
    });
    assert.equal(s.outcomes.find((o) => o.id === "vm")!.failure?.reason, DELEGATION_NO_RESULT);
  });
});

Deno.test("runBuild() fails a task its delegator can place nowhere, without running it", async () => {
  await withTwo(async ({ here, runs, build }) => {
    const s = await build(here, TASKS, {
      place: (t) =>
        Promise.resolve(
          t.id === "vm"
            ? failure("builder-cannot-run", 'Task "vm" needs "packer", which is not installed')
            : "here",
        ),
      build: () => Promise.reject(new Error("never asked")),
    });
    assert.deepEqual(statuses(s), { prep: "ran", vm: "failed", pack: "skipped" });
    assert.equal(s.outcomes.find((o) => o.id === "vm")!.failure?.reason, "builder-cannot-run");
    assert.deepEqual(runs(here), ["prep"]);
  });
});
