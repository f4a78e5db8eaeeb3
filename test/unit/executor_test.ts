import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { LocalProcessRunner } from "../../builders/local.ts";
import { type BuildOptions, type BuildSummary, runBuild } from "../../engine/build.ts";
import type { TaskOutcome } from "../../engine/events.ts";
import type { Fingerprint } from "../../engine/fingerprint.ts";
import { buildGraph } from "../../engine/graph.ts";
import type { ProcessRequest, ProcessResult, ProcessRunner } from "../../engine/process.ts";
import { minimalPath } from "../../engine/run_action.ts";
import { WorkspaceState } from "../../engine/state.ts";
import { LocalStore } from "../../engine/store.ts";
import { cmd, fn, type Task } from "../../engine/task.ts";

function sha(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A temp workspace, a private store and a private HOME; nothing touches ~/.cache. */
interface Ws {
  readonly root: string;
  readonly store: LocalStore;
  readonly home: string;
  write(rel: string, text: string): void;
  read(rel: string): string;
  exists(rel: string): boolean;
  /** How many times commands appended to `$HOME/runs` (a run counter outside the workspace). */
  runs(): string[];
  /** Every action cache entry file in the store. */
  entries(): string[];
  build(tasks: Task[], o?: Partial<BuildOptions>): Promise<BuildSummary>;
}

async function withWorkspace(body: (ws: Ws) => Promise<void>): Promise<void> {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "kiln_exec_" }));
  const root = `${dir}/ws`, home = `${dir}/home`;
  Deno.mkdirSync(root);
  Deno.mkdirSync(home);
  const store = new LocalStore(`${dir}/cache`);
  const ws: Ws = {
    root,
    store,
    home,
    write(rel, text) {
      const abs = `${root}/${rel}`;
      Deno.mkdirSync(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
      Deno.writeTextFileSync(abs, text);
    },
    read: (rel) => Deno.readTextFileSync(`${root}/${rel}`),
    exists(rel) {
      try {
        Deno.lstatSync(`${root}/${rel}`);
        return true;
      } catch {
        return false;
      }
    },
    runs() {
      try {
        return Deno.readTextFileSync(`${home}/runs`).split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    entries() {
      const out: string[] = [];
      try {
        for (const d of Deno.readDirSync(`${store.dir}/ac`)) {
          for (const f of Deno.readDirSync(`${store.dir}/ac/${d.name}`)) out.push(f.name);
        }
      } catch { /* no ac folder yet */ }
      return out;
    },
    build(tasks, o = {}) {
      const graph = buildGraph({ tasks, pools: {}, root });
      return runBuild(graph, {
        targets: [],
        jobs: 4,
        keepGoing: false,
        store,
        runner: new LocalProcessRunner(),
        env: (n) => (n === "HOME" ? home : undefined),
        ...o,
      });
    },
  };
  try {
    await body(ws);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function statuses(s: BuildSummary): Record<string, string> {
  return Object.fromEntries(s.outcomes.map((o) => [o.id, o.status]));
}

function outcome(s: BuildSummary, id: string): TaskOutcome {
  const o = s.outcomes.find((x) => x.id === id);
  assert.ok(o, `no outcome for ${id}`);
  return o;
}

/** The fingerprint and key kiln recorded for task `id`'s last run. */
function lastRun(root: string, id: string): { fp: Fingerprint; key: string } {
  const rec = WorkspaceState.load(root).get(id);
  assert.ok(rec, `no record for ${id}`);
  return { fp: JSON.parse(rec.fp), key: rec.key };
}

/** The key of task `id`'s last run, asserting it was recorded with no fingerprint to match. */
function uncachedRunKey(root: string, id: string): string {
  const rec = WorkspaceState.load(root).get(id);
  assert.ok(rec, `no record for ${id}`);
  assert.equal(rec.fp, "", "an uncached run records no fingerprint, so it can never be fresh");
  assert.equal(rec.status, "ran");
  return rec.key;
}

const UPPER: Task = {
  id: "upper",
  inputs: ["src/in.txt"],
  outputs: ["out/up.txt"],
  action: cmd('tr a-z A-Z < src/in.txt > out/up.txt && echo upper >> "$HOME/runs"'),
};

Deno.test("runBuild() runs a task, then finds it fresh, then restores it from the cache when its output was deleted", async () => {
  await withWorkspace(async (ws) => {
    ws.write("src/in.txt", "hello\n");
    const first = await ws.build([UPPER]);
    assert.deepEqual(statuses(first), { upper: "ran" });
    assert.deepEqual(outcome(first, "upper").reasons, ["no previous run recorded"]);
    assert.equal(ws.read("out/up.txt"), "HELLO\n");
    const { key } = lastRun(ws.root, "upper");
    const entry = await ws.store.getEntry(key);
    assert.ok(entry, "the result is in the cache");
    assert.deepEqual(entry.outputs.files.map((f) => [f.path, f.digest]), [
      ["out/up.txt", sha("HELLO\n")],
    ]);

    const second = await ws.build([UPPER]);
    assert.deepEqual(statuses(second), { upper: "fresh" });
    assert.deepEqual(second.counts, { ran: 0, cached: 0, fresh: 1, failed: 0, skipped: 0 });

    Deno.removeSync(`${ws.root}/out/up.txt`);
    const third = await ws.build([UPPER]);
    assert.deepEqual(statuses(third), { upper: "cached" });
    assert.deepEqual(outcome(third, "upper").reasons, ["outputs missing or modified"]);
    assert.equal(ws.read("out/up.txt"), "HELLO\n");
    assert.deepEqual(ws.runs(), ["upper"], "the command ran once in three builds");

    assert.deepEqual(statuses(await ws.build([UPPER])), { upper: "fresh" });
  });
});

Deno.test("runBuild() reruns a task when its input changes and restores the old result when it changes back", async () => {
  await withWorkspace(async (ws) => {
    ws.write("src/in.txt", "one\n");
    await ws.build([UPPER]);
    ws.write("src/in.txt", "two\n");
    const changed = await ws.build([UPPER]);
    assert.deepEqual(statuses(changed), { upper: "ran" });
    const reasons = outcome(changed, "upper").reasons;
    assert.equal(reasons.length, 1);
    assert.match(reasons[0], /^input "src\/in\.txt" changed \([0-9a-f]{12} -> [0-9a-f]{12}\)$/);
    assert.equal(ws.read("out/up.txt"), "TWO\n");

    ws.write("src/in.txt", "one\n");
    const back = await ws.build([UPPER]);
    assert.deepEqual(statuses(back), { upper: "cached" });
    assert.equal(ws.read("out/up.txt"), "ONE\n");
    assert.deepEqual(ws.runs(), ["upper", "upper"]);
  });
});

Deno.test("runBuild() restores an output that was modified in the workspace", async () => {
  await withWorkspace(async (ws) => {
    ws.write("src/in.txt", "hello\n");
    await ws.build([UPPER]);
    ws.write("out/up.txt", "tampered\n");
    assert.deepEqual(statuses(await ws.build([UPPER])), { upper: "cached" });
    assert.equal(ws.read("out/up.txt"), "HELLO\n");
  });
});

Deno.test("runBuild() keeps a dependent fresh when its dependency reruns with identical output (early cutoff)", async () => {
  await withWorkspace(async (ws) => {
    const tasks: Task[] = [
      {
        id: "strip",
        inputs: ["src/a.txt"],
        outputs: ["out/a.txt"],
        action: cmd(`grep -v '^#' src/a.txt > out/a.txt; echo strip >> "$HOME/runs"`),
      },
      {
        id: "use",
        deps: ["strip"],
        outputs: ["out/b.txt"],
        action: cmd(`cat out/a.txt out/a.txt > out/b.txt; echo use >> "$HOME/runs"`),
      },
    ];
    ws.write("src/a.txt", "data\n");
    assert.deepEqual(statuses(await ws.build(tasks)), { strip: "ran", use: "ran" });

    ws.write("src/a.txt", "# a comment\ndata\n"); // strip reruns, out/a.txt is byte-identical
    const cut = await ws.build(tasks);
    assert.deepEqual(statuses(cut), { strip: "ran", use: "fresh" });
    assert.deepEqual(ws.runs(), ["strip", "use", "strip"]);

    ws.write("src/a.txt", "# a comment\nnew data\n"); // now the output changes
    const through = await ws.build(tasks);
    assert.deepEqual(statuses(through), { strip: "ran", use: "ran" });
    assert.match(
      outcome(through, "use").reasons.join("\n"),
      /^dependency "strip" output "out\/a\.txt" changed/,
    );
    assert.equal(ws.read("out/b.txt"), "new data\nnew data\n");
  });
});

Deno.test("runBuild() fails a task with missing-output and caches nothing when a declared output is not produced", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "lazy",
      outputs: ["out/x.txt", "out/y.txt"],
      action: cmd("echo x > out/x.txt"),
    };
    const s = await ws.build([task]);
    assert.deepEqual(statuses(s), { lazy: "failed" });
    const o = outcome(s, "lazy");
    assert.equal(o.failure?.reason, "missing-output");
    assert.equal(
      o.failure?.message,
      'Task "lazy" did not produce declared output "out/y.txt"; make its action write it or remove it from outputs',
    );
    assert.deepEqual(ws.entries(), [], "no cache entry written");
    assert.equal(ws.store.pending, 0);
    assert.equal(
      WorkspaceState.load(ws.root).get("lazy"),
      undefined,
      "a failed run is not recorded",
    );
    // Not fresh next time either: it fails again.
    assert.deepEqual(statuses(await ws.build([task])), { lazy: "failed" });
  });
});

Deno.test("runBuild() fails a task with action-failed and skips its dependents when its command fails", async () => {
  await withWorkspace(async (ws) => {
    const tasks: Task[] = [
      { id: "bad", outputs: ["out/bad.txt"], action: cmd("echo boom >&2; exit 3") },
      { id: "child", deps: ["bad"], outputs: ["out/c.txt"], action: cmd("echo c > out/c.txt") },
      { id: "grandchild", deps: ["child"], action: cmd('echo g >> "$HOME/runs"') },
    ];
    const s = await ws.build(tasks);
    assert.deepEqual(statuses(s), { bad: "failed", child: "skipped", grandchild: "skipped" });
    const o = outcome(s, "bad");
    assert.equal(o.failure?.reason, "action-failed");
    assert.equal(o.failure?.message, 'Task "bad" failed: its command exited with code 3');
    assert.ok(o.logPath);
    assert.equal(Deno.readTextFileSync(o.logPath), "boom\n", "stderr goes to the task's log");
    assert.equal(ws.exists("out/c.txt"), false);
    assert.deepEqual(ws.runs(), []);
    assert.deepEqual(ws.entries(), []);
    assert.deepEqual(s.counts, { ran: 0, cached: 0, fresh: 0, failed: 1, skipped: 2 });
  });
});

Deno.test("runBuild() gives a command only its declared env vars plus PATH, HOME and TMPDIR", async () => {
  await withWorkspace(async (ws) => {
    const leak = "KILN_EXECUTOR_TEST_PROCESS_SECRET";
    Deno.env.set(leak, "from-the-test-process");
    try {
      const vars: Record<string, string> = {
        HOME: ws.home,
        DECLARED: "yes",
        SECRET: "hunter2",
      };
      const task: Task = {
        id: "env",
        env: ["DECLARED", "NOT_SET"],
        outputs: ["out/env.txt"],
        action: cmd("env > out/env.txt"),
      };
      const s = await ws.build([task], { env: (n) => vars[n] });
      assert.deepEqual(statuses(s), { env: "ran" });
      const env = new Map(
        ws.read("out/env.txt").trim().split("\n").map((l) => {
          const i = l.indexOf("=");
          return [l.slice(0, i), l.slice(i + 1)] as const;
        }),
      );
      assert.equal(env.get("DECLARED"), "yes");
      assert.equal(env.get("HOME"), ws.home);
      assert.equal(env.get("PATH"), minimalPath());
      assert.match(env.get("TMPDIR") ?? "", new RegExp(`^${ws.root}/\\.kiln/tmp/`));
      assert.equal(env.has("SECRET"), false, "undeclared var from the env lookup leaked");
      assert.equal(env.has(leak), false, "kiln's own environment leaked");
      assert.equal(env.has("NOT_SET"), false);
      // Whatever else is there was added by the shell itself.
      const shellVars = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
      const rest = [...env.keys()].filter((k) => !shellVars.has(k)).sort();
      assert.deepEqual(rest, ["DECLARED", "HOME", "PATH", "TMPDIR"]);
      // The declared values are in the key; the undeclared one is not.
      assert.deepEqual(lastRun(ws.root, "env").fp.env, { DECLARED: "yes", NOT_SET: null });

      vars.SECRET = "changed";
      assert.deepEqual(statuses(await ws.build([task], { env: (n) => vars[n] })), {
        env: "fresh",
      });
      vars.DECLARED = "no";
      const s3 = await ws.build([task], { env: (n) => vars[n] });
      assert.deepEqual(statuses(s3), { env: "ran" });
      assert.deepEqual(outcome(s3, "env").reasons, ['env DECLARED changed ("yes" -> "no")']);
    } finally {
      Deno.env.delete(leak);
    }
  });
});

Deno.test("runBuild() runs a TypeScript fn action and keys it on its module's digest", async () => {
  await withWorkspace(async (ws) => {
    const seen: string[][] = [];
    const task = (version: string): Task => ({
      id: "ts",
      inputs: ["src/n.txt"],
      env: ["DECLARED"],
      outputs: ["out/double.txt"],
      action: fn(import.meta.url, async (ctx) => {
        seen.push(Object.keys(ctx.env).sort());
        const n = Number(await Deno.readTextFile(ctx.path("src/n.txt")));
        await Deno.writeTextFile(ctx.path("out/double.txt"), String(n * 2));
        ctx.log(`doubled ${n}`);
      }, version),
    });
    const env = (n: string) => ({ HOME: ws.home, DECLARED: "d", OTHER: "o" })[n];
    ws.write("src/n.txt", "21");
    const s = await ws.build([task("v1")], { env });
    assert.deepEqual(statuses(s), { ts: "ran" });
    assert.equal(ws.read("out/double.txt"), "42");
    assert.deepEqual(seen, [["DECLARED", "HOME", "PATH", "TMPDIR"]]);
    assert.equal(Deno.readTextFileSync(outcome(s, "ts").logPath!), "doubled 21\n");

    const modulePath = decodeURIComponent(new URL(import.meta.url).pathname);
    const { fp, key } = lastRun(ws.root, "ts");
    assert.deepEqual(fp.action, {
      module: modulePath, // outside the workspace: kept absolute
      digest: sha(Deno.readFileSync(modulePath)),
      version: "v1",
    });
    assert.ok(await ws.store.getEntry(key));

    assert.deepEqual(statuses(await ws.build([task("v1")], { env })), { ts: "fresh" });
    const bumped = await ws.build([task("v2")], { env });
    assert.deepEqual(statuses(bumped), { ts: "ran" });
    assert.deepEqual(outcome(bumped, "ts").reasons, ['action version changed ("v1" -> "v2")']);
    assert.equal(seen.length, 2);
  });
});

Deno.test("runBuild() fails a fn action with the Failure it returns", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "ts-fail",
      outputs: ["out/x.txt"],
      action: fn(import.meta.url, () => ({ reason: "iso-signature-invalid", message: "Bad sig" })),
    };
    const s = await ws.build([task]);
    assert.equal(outcome(s, "ts-fail").status, "failed");
    assert.equal(outcome(s, "ts-fail").failure?.reason, "iso-signature-invalid");
    assert.deepEqual(ws.entries(), []);
  });
});

Deno.test("runBuild() does not cache a result when the command edits its own input", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "selfedit",
      inputs: ["src/in.txt"],
      outputs: ["out/o.txt"],
      action: cmd("cat src/in.txt > out/o.txt; echo more >> src/in.txt"),
    };
    ws.write("src/in.txt", "start\n");
    const s = await ws.build([task]);
    const o = outcome(s, "selfedit");
    assert.equal(o.status, "ran");
    assert.equal(
      o.notCached,
      `input "${ws.root}/src/in.txt" changed while the task ran; result not cached`,
    );
    const key = uncachedRunKey(ws.root, "selfedit");
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(await ws.store.getEntry(key), null);
    assert.deepEqual(ws.entries(), []);
    assert.notEqual(statuses(await ws.build([task])).selfedit, "fresh");
  });
});

Deno.test("runBuild() does not cache a result when an input is rewritten (same size) while the command runs", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "slow",
      inputs: ["src/in.txt"],
      outputs: ["out/o.txt"],
      // Reads the input, then waits for the test to edit it before finishing.
      action: cmd("cat src/in.txt > out/o.txt; while [ ! -f go ]; do sleep 0.01; done"),
    };
    ws.write("src/in.txt", "aaaa\n");
    let edited = false;
    const s = await ws.build([task], {
      reporter: {
        taskStarted(id, what) {
          if (id !== "slow" || what !== "run") return;
          setTimeout(() => {
            ws.write("src/in.txt", "bbbb\n");
            edited = true;
            ws.write("go", "");
          }, 20);
        },
      },
    });
    assert.ok(edited);
    const o = outcome(s, "slow");
    assert.equal(o.status, "ran");
    assert.match(o.notCached ?? "", /src\/in\.txt" changed while the task ran; result not cached$/);
    assert.equal(await ws.store.getEntry(uncachedRunKey(ws.root, "slow")), null);
    assert.deepEqual(ws.entries(), []);
  });
});

/** An in-memory runner: each command is a function that writes the outputs itself. */
class FakeRunner implements ProcessRunner {
  readonly calls: ProcessRequest[] = [];
  active = 0;
  maxActive = 0;
  constructor(
    readonly commands: Record<
      string,
      (req: ProcessRequest) => ProcessResult | Promise<ProcessResult>
    >,
  ) {}
  async run(req: ProcessRequest): Promise<ProcessResult> {
    this.calls.push(req);
    const script = req.argv[2];
    const handler = this.commands[script];
    if (!handler) throw new Error(`FakeRunner: no command "${script}"`);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await handler(req);
    } finally {
      this.active--;
    }
  }
}

const OK: ProcessResult = { code: 0, signal: null };

Deno.test("runBuild() drives an in-memory ProcessRunner with the task's command, cwd, env and log", async () => {
  await withWorkspace(async (ws) => {
    const runner = new FakeRunner({
      generate: (req) => {
        Deno.mkdirSync(`${req.cwd}/out`, { recursive: true });
        Deno.writeTextFileSync(`${req.cwd}/out/g.txt`, `token=${req.env.TOKEN}`);
        return OK;
      },
    });
    const task: Task = {
      id: "gen",
      env: ["TOKEN"],
      outputs: ["out/g.txt"],
      action: cmd("generate"),
    };
    const vars: Record<string, string> = { HOME: "/home/fake", TOKEN: "t1", SECRET: "s" };
    const opts = { runner, env: (n: string) => vars[n] };

    assert.deepEqual(statuses(await ws.build([task], opts)), { gen: "ran" });
    assert.equal(ws.read("out/g.txt"), "token=t1");
    assert.equal(runner.calls.length, 1);
    const req = runner.calls[0];
    assert.deepEqual(req.argv, ["sh", "-c", "generate"]);
    assert.equal(req.cwd, ws.root);
    assert.equal(req.logPath, `${ws.root}/.kiln/logs/gen.log`);
    assert.equal(req.truncateLog, true);
    assert.deepEqual(Object.keys(req.env).sort(), ["HOME", "PATH", "TMPDIR", "TOKEN"]);
    assert.deepEqual([req.env.HOME, req.env.PATH, req.env.TOKEN], [
      "/home/fake",
      minimalPath(),
      "t1",
    ]);
    assert.ok(req.env.TMPDIR.startsWith(`${ws.root}/.kiln/tmp/`));

    assert.deepEqual(statuses(await ws.build([task], opts)), { gen: "fresh" });
    Deno.removeSync(`${ws.root}/out/g.txt`);
    assert.deepEqual(statuses(await ws.build([task], opts)), { gen: "cached" });
    assert.equal(runner.calls.length, 1, "fresh and cached builds start no process");
    assert.equal(ws.read("out/g.txt"), "token=t1");

    vars.TOKEN = "t2";
    assert.deepEqual(statuses(await ws.build([task], opts)), { gen: "ran" });
    assert.equal(ws.read("out/g.txt"), "token=t2");
    assert.equal(runner.calls.length, 2);
  });
});

Deno.test("runBuild() reports an in-memory runner's exit code and signal as action-failed", async () => {
  await withWorkspace(async (ws) => {
    const runner = new FakeRunner({
      exit7: () => ({ code: 7, signal: null }),
      killed: () => ({ code: 137, signal: "SIGKILL" }),
    });
    const s = await ws.build([
      { id: "a", action: cmd("exit7") },
      { id: "b", action: cmd("killed") },
    ], { runner, keepGoing: true });
    assert.deepEqual(statuses(s), { a: "failed", b: "failed" });
    assert.equal(
      outcome(s, "a").failure?.message,
      'Task "a" failed: its command exited with code 7',
    );
    assert.equal(
      outcome(s, "b").failure?.message,
      'Task "b" failed: its command was killed by SIGKILL',
    );
    assert.equal(outcome(s, "b").failure?.reason, "action-failed");
  });
});

Deno.test("runBuild() runs at most -j actions at once, and at most a pool's size in that pool", async () => {
  await withWorkspace(async (ws) => {
    const slow = async (req: ProcessRequest) => {
      await new Promise((r) => setTimeout(r, 15));
      const id = req.logPath.slice(req.logPath.lastIndexOf("/") + 1, -4);
      Deno.writeTextFileSync(`${req.cwd}/out/${id}.txt`, id);
      return OK;
    };
    Deno.mkdirSync(`${ws.root}/out`);
    const tasks = (pool?: string): Task[] =>
      ["t1", "t2", "t3", "t4", "t5"].map((id) => ({
        id,
        pool,
        params: { pool: pool ?? null },
        outputs: [`out/${id}.txt`],
        action: cmd("slow"),
      }));

    const jRunner = new FakeRunner({ slow });
    const j = await ws.build(tasks(), { runner: jRunner, jobs: 2 });
    assert.equal(j.counts.ran, 5);
    assert.equal(jRunner.maxActive, 2);

    const pRunner = new FakeRunner({ slow });
    const graph = buildGraph({ tasks: tasks("vm"), pools: { vm: 1 }, root: ws.root });
    const p = await runBuild(graph, {
      targets: [],
      jobs: 4,
      keepGoing: false,
      store: ws.store,
      runner: pRunner,
      env: () => undefined,
    });
    assert.equal(p.counts.ran, 5);
    assert.equal(pRunner.maxActive, 1);
  });
});

Deno.test("runBuild() gives TypeScript actions a dax $ with the task's env, cwd and log", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "dax",
      env: ["GREETING"],
      outputs: ["out/dax.txt"],
      action: fn(import.meta.url, async (ctx) => {
        const $ = await ctx.$();
        await $`pwd > out/dax.txt && echo "$GREETING" >> out/dax.txt`;
        await $`echo logged; echo "secret=$SECRET"`;
      }),
    };
    const env = (n: string) =>
      ({ GREETING: "hello", SECRET: "s3cret" } as Record<string, string>)[n];
    const first = await ws.build([task], { env });
    assert.equal(first.outcomes[0].status, "ran");
    assert.equal(ws.read("out/dax.txt"), `${ws.root}\nhello\n`);
    const log = ws.read(".kiln/logs/dax.log");
    assert.match(log, /logged/);
    assert.match(log, /secret=\n/); // undeclared vars are not passed
    const failing: Task = {
      ...task,
      id: "dax-fail",
      outputs: ["out/never.txt"],
      action: fn(import.meta.url, async (ctx) => {
        const $ = await ctx.$();
        await $`exit 3`;
      }),
    };
    const second = await ws.build([failing], { env });
    assert.equal(second.outcomes[0].status, "failed");
    assert.equal(second.outcomes[0].failure?.reason, "action-failed");
  });
});

Deno.test("runBuild() keeps a task's stateDir between its runs when its outputs are rebuilt", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "apt:index",
      inputs: ["src/n.txt"],
      outputs: ["out/n.txt"],
      action: fn(import.meta.url, async (ctx) => {
        const counter = `${ctx.stateDir()}/runs`;
        let runs = 0;
        try {
          runs = Number(await Deno.readTextFile(counter));
        } catch { /* first run */ }
        await Deno.writeTextFile(counter, String(runs + 1));
        await Deno.writeTextFile(
          ctx.path("out/n.txt"),
          await Deno.readTextFile(ctx.path("src/n.txt")),
        );
      }),
    };
    ws.write("src/n.txt", "1");
    await ws.build([task]);
    ws.write("src/n.txt", "2");
    await ws.build([task]);
    assert.equal(ws.read(".kiln/task-state/apt%3Aindex/runs"), "2");
    assert.ok(!ws.exists("out/runs"), "the state folder is not an output");
  });
});

Deno.test("runBuild() keys a secretEnv var by its digest and keeps its value out of .kiln", async () => {
  await withWorkspace(async (ws) => {
    const secret = "-----BEGIN PGP PRIVATE KEY BLOCK----- s3cr3t";
    const task: Task = {
      id: "sign",
      secretEnv: ["SIGNING_KEY"],
      outputs: ["out/sig.txt"],
      action: fn(import.meta.url, async (ctx) => {
        await Deno.writeTextFile(ctx.path("out/sig.txt"), `len ${ctx.env.SIGNING_KEY.length}`);
      }),
    };
    let value = secret;
    const env = (n: string) => (n === "SIGNING_KEY" ? value : undefined);
    assert.equal((await ws.build([task], { env })).outcomes[0].status, "ran");
    assert.equal(ws.read("out/sig.txt"), `len ${secret.length}`);
    assert.equal((await ws.build([task], { env })).outcomes[0].status, "fresh");
    const { fp } = lastRun(ws.root, "sign");
    assert.match(String(fp.env.SIGNING_KEY), /^sha256:[0-9a-f]{64}$/);
    for (const f of Deno.readDirSync(`${ws.root}/.kiln`)) {
      if (f.isFile) assert.ok(!ws.read(`.kiln/${f.name}`).includes("s3cr3t"), f.name);
    }
    value = `${secret}-rotated`;
    assert.equal((await ws.build([task], { env })).outcomes[0].status, "ran");
  });
});

Deno.test("runBuild() shows ctx.warn() to the reporter and keeps it in the task's log", async () => {
  await withWorkspace(async (ws) => {
    const warned: string[] = [];
    const task: Task = {
      id: "key",
      outputs: ["out/k.txt"],
      action: fn(import.meta.url, async (ctx) => {
        ctx.warn("Signing key ABCD expires on 2026-12-01; rotate it");
        await Deno.writeTextFile(ctx.path("out/k.txt"), "k");
      }),
    };
    await ws.build([task], { reporter: { warn: (m) => warned.push(m) } });
    assert.deepEqual(warned, ["key: Signing key ABCD expires on 2026-12-01; rotate it"]);
    assert.match(ws.read(".kiln/logs/key.log"), /^warning: Signing key ABCD/);
  });
});

Deno.test("runBuild() reruns a TypeScript action when a module its module imports changes", async () => {
  await withWorkspace(async (ws) => {
    ws.write(
      "pipe/act.ts",
      'import { helper } from "./lib/helper.ts";\nexport const x = helper;\n',
    );
    ws.write("pipe/lib/helper.ts", "export const helper = 1;\n");
    const task: Task = {
      id: "lib-user",
      outputs: ["out/x.txt"],
      action: fn(`file://${ws.root}/pipe/act.ts`, async (ctx) => {
        await Deno.writeTextFile(ctx.path("out/x.txt"), "x");
      }),
    };
    assert.equal((await ws.build([task])).outcomes[0].status, "ran");
    assert.deepEqual(lastRun(ws.root, "lib-user").fp.code, [
      ["pipe/lib/helper.ts", sha("export const helper = 1;\n")],
    ]);
    assert.equal((await ws.build([task])).outcomes[0].status, "fresh");
    ws.write("pipe/lib/helper.ts", "export const helper = 2;\n");
    const again = await ws.build([task]);
    assert.equal(again.outcomes[0].status, "ran");
    assert.match(again.outcomes[0].reasons.join("; "), /module "pipe\/lib\/helper\.ts" changed/);
  });
});

Deno.test("runBuild() shows passEnv vars to the action but keeps them out of the key", async () => {
  await withWorkspace(async (ws) => {
    const task: Task = {
      id: "who",
      outputs: ["out/who.txt"],
      passEnv: ["WHO"],
      action: cmd('mkdir -p out && echo "built by ${WHO:-nobody}" > out/who.txt'),
    };
    const env = (who: string) => (n: string) => n === "WHO" ? who : undefined;
    const first = await ws.build([task], { env: env("laptop") });
    assert.deepEqual(statuses(first), { who: "ran" });
    assert.equal(ws.read("out/who.txt"), "built by laptop\n");
    const key = lastRun(ws.root, "who").key;
    const second = await ws.build([task], { env: env("ci") });
    assert.deepEqual(statuses(second), { who: "fresh" }, "another value is the same key");
    Deno.removeSync(`${ws.root}/out/who.txt`);
    const third = await ws.build([task], { env: env("ci") });
    assert.deepEqual(statuses(third), { who: "cached" });
    assert.equal(lastRun(ws.root, "who").key, key);
    assert.equal(ws.read("out/who.txt"), "built by laptop\n", "the cached result, whoever asks");
  });
});
