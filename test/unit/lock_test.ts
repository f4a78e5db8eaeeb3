import assert from "node:assert/strict";
import { lockWorkspace } from "../../engine/lock.ts";
import { kilnDir } from "../../engine/path.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const tempWorkspace = () => makeTmp("lock-");

Deno.test("lockWorkspace() stays quiet when a child of this process briefly shares the lock", async () => {
  const ws = await tempWorkspace();
  let stop = false;
  const spawning = (async () => {
    while (!stop) {
      await Promise.all([1, 2, 3].map(() => new Deno.Command("true").output()));
    }
  })();
  const waits: string[] = [];
  try {
    for (let i = 0; i < 150; i++) {
      const lock = await lockWorkspace(ws, (h) => waits.push(h));
      await new Promise((r) => setTimeout(r, 0));
      lock[Symbol.dispose]();
    }
  } finally {
    stop = true;
    await spawning;
    await removeTree(ws);
  }
  assert.deepEqual(waits, []);
});

Deno.test("lockWorkspace() names the holder and waits when another process holds the lock", async () => {
  const ws = await tempWorkspace();
  await Deno.mkdir(kilnDir(ws), { recursive: true });
  const path = `${kilnDir(ws)}/lock`;
  await Deno.writeTextFile(path, "4242");
  const holder = new Deno.Command("flock", {
    args: [path, "sh", "-c", "echo held; sleep 0.5"],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  const waits: string[] = [];
  const started = performance.now();
  try {
    const lock = await lockWorkspace(ws, (h) => waits.push(h));
    lock[Symbol.dispose]();
    assert.deepEqual(waits, ["kiln process 4242"]);
    assert.ok(performance.now() - started > 100, "took the lock before its holder let go");
    assert.equal(Deno.readTextFileSync(path), String(Deno.pid));
  } finally {
    await holder.status;
    await removeTree(ws);
  }
});
