import assert from "node:assert/strict";
import { descendants, LocalProcessRunner } from "../../builders/local.ts";
import { workerCanRun, workerScript } from "../../builders/shell_worker.ts";
import type { ProcessRequest } from "../../engine/process.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const BASE = { PATH: "/usr/bin:/bin" };

function request(dir: string, cmd: string, extra: Partial<ProcessRequest> = {}): ProcessRequest {
  return {
    argv: ["sh", "-c", cmd],
    cwd: dir,
    env: BASE,
    logPath: `${dir}/log`,
    truncateLog: true,
    signal: new AbortController().signal,
    ...extra,
  };
}

async function withRunner(
  fn: (runner: LocalProcessRunner, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await makeTmp("runner-");
  const runner = new LocalProcessRunner();
  try {
    await fn(runner, dir);
  } finally {
    await runner.release();
    await removeTree(dir);
  }
}

const log = (dir: string) => Deno.readTextFileSync(`${dir}/log`);

function envLines(text: string): string[] {
  return text.trim().split("\n").sort();
}

Deno.test("LocalProcessRunner.run() gives a command exactly the declared env plus PWD", async () => {
  await withRunner(async (runner, dir) => {
    const env = { ...BASE, HOME: "/root", LANG: "C.UTF-8", ODD: "a 'quoted' $value\nline two" };
    const r = await runner.run(request(dir, "env", { env }));
    assert.deepEqual(r, { code: 0, signal: null });
    // A fresh `sh -c` sees the same: compare against one.
    const direct = await new Deno.Command("/bin/sh", {
      args: ["-c", "env"],
      cwd: dir,
      clearEnv: true,
      env,
    }).output();
    assert.deepEqual(envLines(log(dir)), envLines(new TextDecoder().decode(direct.stdout)));
  });
});

Deno.test("LocalProcessRunner.run() keeps nothing from one command to the next when a worker is reused", async () => {
  await withRunner(async (runner, dir) => {
    Deno.mkdirSync(`${dir}/sub`);
    const first =
      "cd sub; export LEAK=1; SHELLVAR=2; set -e; umask 077; f() { :; }; trap 'echo t' EXIT";
    assert.equal((await runner.run(request(dir, first))).code, 0);
    assert.equal(log(dir), "t\n");
    const probe = 'echo "pwd=$(pwd) leak=${LEAK-} var=${SHELLVAR-} args=$# umask=$(umask)"; ' +
      "command -v f || echo no-f; false; echo after-false";
    assert.equal((await runner.run(request(dir, probe))).code, 0);
    const umask = new TextDecoder().decode(
      (await new Deno.Command("/bin/sh", { args: ["-c", "umask"] }).output()).stdout,
    ).trim();
    assert.equal(log(dir), `pwd=${dir} leak= var= args=0 umask=${umask}\nno-f\nafter-false\n`);
  });
});

Deno.test("LocalProcessRunner.run() returns the command's exit code when it fails", async () => {
  await withRunner(async (runner, dir) => {
    assert.deepEqual(await runner.run(request(dir, "exit 3")), { code: 3, signal: null });
    assert.equal((await runner.run(request(dir, "no-such-command-kiln"))).code, 127);
    assert.equal((await runner.run(request(dir, "if then fi"))).code, 2); // syntax error
    assert.equal((await runner.run(request(dir, "true"))).code, 0); // the worker survived them
  });
});

Deno.test("LocalProcessRunner.run() gives commands an empty stdin when they read it", async () => {
  await withRunner(async (runner, dir) => {
    // If the command could read the worker's script pipe, it would swallow the next request.
    assert.equal((await runner.run(request(dir, "cat; wc -c < /dev/stdin"))).code, 0);
    assert.equal(log(dir).trim(), "0");
    assert.equal((await runner.run(request(dir, "echo next"))).code, 0);
    assert.equal(log(dir), "next\n");
  });
});

Deno.test("LocalProcessRunner.run() passes any text through when commands hold quotes and newlines", async () => {
  await withRunner(async (runner, dir) => {
    const cmd = `printf '%s\\n' "it's" 'a "b"' \\
  '$HOME \\\\n'
echo done`;
    assert.equal((await runner.run(request(dir, cmd))).code, 0);
    assert.equal(log(dir), `it's\na "b"\n$HOME \\\\n\ndone\n`);
    const argv = ["printf", "%s|", "a b", "it's", "", "$x"];
    assert.equal((await runner.run(request(dir, "", { argv }))).code, 0);
    assert.equal(log(dir), "a b|it's||$x|");
  });
});

Deno.test("LocalProcessRunner.run() appends to the log unless told to truncate it", async () => {
  await withRunner(async (runner, dir) => {
    await runner.run(request(dir, "echo one"));
    await runner.run(request(dir, "", { argv: ["echo", "two"], truncateLog: false }));
    assert.equal(log(dir), "one\ntwo\n");
    await runner.release(); // the log is the caller's: releasing the workers keeps it
    assert.equal(log(dir), "one\ntwo\n");
  });
});

/** Pids of processes whose command line is exactly `argv`. */
function processesRunning(argv: string[]): number[] {
  const want = argv.join("\0") + "\0";
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === want) out.push(Number(e.name));
    } catch { /* exited */ }
  }
  return out;
}

/** Waits until `count` processes run `argv` (a loaded machine starts and reaps them late). */
async function waitForProcesses(argv: string[], count: number): Promise<void> {
  for (let i = 0; i < 800 && processesRunning(argv).length !== count; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(processesRunning(argv).length, count);
}

const alive = (pid: number) => {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
  } catch {
    return false;
  }
};

Deno.test("LocalProcessRunner.run() kills the command's process tree when aborted", async () => {
  await withRunner(async (runner, dir) => {
    const c = new AbortController();
    const t0 = performance.now();
    const marker = ["sleep", `30.${Deno.pid}1`];
    const run = runner.run(request(dir, `${marker.join(" ")} & ${marker.join(" ")}; wait`, {
      signal: c.signal,
    }));
    await waitForProcesses(marker, 2);
    const [worker] = runner.workerPids();
    c.abort();
    const r = await run;
    assert.notEqual(r.code, 0);
    assert.ok(performance.now() - t0 < 10_000);
    await waitForProcesses(marker, 0);
    assert.ok(!alive(worker));
    // The runner goes on with a new worker.
    assert.equal((await runner.run(request(dir, "echo again"))).code, 0);
    assert.equal(log(dir), "again\n");
  });
});

Deno.test("LocalProcessRunner.run() reports how a worker ended when something kills it", async () => {
  await withRunner(async (runner, dir) => {
    const marker = ["sleep", `30.${Deno.pid}2`];
    const run = runner.run(request(dir, marker.join(" ")));
    await waitForProcesses(marker, 1);
    const [worker] = runner.workerPids();
    const tree = [worker, ...descendants(worker)];
    for (const p of tree) Deno.kill(p, "SIGKILL"); // the worker first: it must not see sleep end
    const r = await run;
    assert.equal(r.signal, "SIGKILL");
    await waitForProcesses(marker, 0);
    assert.equal((await runner.run(request(dir, "echo fine"))).code, 0);
    assert.notEqual(runner.workerPids()[0], worker);
  });
});

Deno.test("LocalProcessRunner.release() ends idle workers", async () => {
  await withRunner(async (runner, dir) => {
    await Promise.all([runner.run(request(dir, "true")), runner.run(request(dir, "true"))]);
    const workers = runner.workerPids();
    assert.equal(workers.length, 2);
    assert.ok(workers.every(alive));
    await runner.release();
    assert.deepEqual(runner.workerPids(), []);
    assert.ok(!workers.some(alive));
  });
});

Deno.test("workerCanRun() sends env vars the shell treats specially to a fresh sh", async () => {
  const dir = "/";
  assert.ok(workerCanRun(request(dir, "true", { env: { A_1: "x" } })));
  assert.ok(!workerCanRun(request(dir, "true", { env: { IFS: ":" } })));
  assert.ok(!workerCanRun(request(dir, "true", { env: { "NOT-A-NAME": "x" } })));
  await withRunner(async (runner, d) => {
    const env = { ...BASE, IFS: ":", PS4: "> " };
    const cmd = 'echo "[$IFS]"; set -x; true';
    const r = await runner.run(request(d, cmd, { env }));
    assert.equal(r.code, 0);
    const direct = await new Deno.Command("/bin/sh", { args: ["-c", cmd], clearEnv: true, env })
      .output();
    const d2 = new TextDecoder();
    assert.equal(log(d), d2.decode(direct.stdout) + d2.decode(direct.stderr));
  });
});

Deno.test("workerScript() quotes the log path, folder and values when they hold quotes", () => {
  const s = workerScript(request("/a'b", "true", { env: { V: "x'y" }, logPath: "/l'og" }));
  assert.equal(
    s,
    `(exec >'/l'\\''og' 2>&1 </dev/null; cd '/a'\\''b' || exit 127; unset OLDPWD; ` +
      `export V='x'\\''y'; ` +
      `eval 'true'\n)\necho "$?"\n`,
  );
});

Deno.test("LocalProcessRunner.run() leaves no log and removes an old one when a command prints nothing", async () => {
  await withRunner(async (runner, dir) => {
    Deno.writeTextFileSync(`${dir}/log`, "from the last run\n");
    assert.equal((await runner.run(request(dir, "true"))).code, 0);
    assert.throws(() => Deno.statSync(`${dir}/log`), Deno.errors.NotFound);
    assert.equal((await runner.run(request(dir, "echo said; exit 4"))).code, 4);
    assert.equal(log(dir), "said\n");
    // A fresh sh (for an env var the shell treats specially) behaves the same.
    assert.equal((await runner.run(request(dir, "true", { env: { ...BASE, IFS: " " } }))).code, 0);
    assert.throws(() => Deno.statSync(`${dir}/log`), Deno.errors.NotFound);
    await runner.release();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "no scratch file left");
  });
});

Deno.test("LocalProcessRunner.run() queues commands per worker when prepared for fewer processes", async () => {
  await withRunner(async (runner, dir) => {
    assert.equal(runner.prepare(1), 2);
    const trace = `${dir}/trace`;
    // Each command records when it starts and ends; with one process they must not overlap.
    const req = (i: number) =>
      request(dir, `echo start >> trace; sleep 0.05; echo "out ${i}"; echo end >> trace`, {
        logPath: `${dir}/log${i}`,
      });
    const results = await Promise.all([0, 1, 2, 3].map((i) => runner.run(req(i))));
    assert.deepEqual(results.map((r) => r.code), [0, 0, 0, 0]);
    assert.equal(runner.workerPids().length, 1);
    assert.equal(Deno.readTextFileSync(trace), "start\nend\n".repeat(4));
    for (const i of [0, 1, 2, 3]) {
      assert.equal(Deno.readTextFileSync(`${dir}/log${i}`), `out ${i}\n`);
    }
  });
});

Deno.test("LocalProcessRunner.run() ends queued commands too when aborted", async () => {
  await withRunner(async (runner, dir) => {
    runner.prepare(1);
    const c = new AbortController();
    const marker = ["sleep", `30.${Deno.pid}3`];
    const runs = [0, 1].map((i) =>
      runner.run(request(dir, marker.join(" "), { signal: c.signal, logPath: `${dir}/l${i}` }))
    );
    await waitForProcesses(marker, 1);
    c.abort();
    const results = await Promise.all(runs);
    assert.ok(results.every((r) => r.code !== 0 || r.signal !== null));
    await waitForProcesses(marker, 0);
    assert.deepEqual(runner.workerPids(), []);
  });
});
