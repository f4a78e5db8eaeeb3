import assert from "node:assert/strict";
import { schedule } from "../../engine/scheduler.ts";
import { Semaphore } from "../../engine/semaphore.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const never = () => new AbortController().signal;

/** Deps as a map from a `{ id: [deps] }` record. */
function depsOf(r: Record<string, string[]>): Map<string, string[]> {
  return new Map(Object.entries(r));
}

/** A `run` that logs start/end events, waits `ms[id]` (default 5) and fails the ids in `fail`. */
function recorder(ms: Record<string, number> = {}, fail: string[] = []) {
  const events: string[] = [];
  const run = async (id: string): Promise<"ok" | "failed"> => {
    events.push(`start ${id}`);
    await sleep(ms[id] ?? 5);
    events.push(`end ${id}`);
    return fail.includes(id) ? "failed" : "ok";
  };
  const started = () => events.filter((e) => e.startsWith("start ")).map((e) => e.slice(6));
  return { events, run, started };
}

Deno.test("schedule() finishes dependencies before starting their dependents", async () => {
  // Diamond plus a tail: a -> (b, c) -> d -> e, with b slower than c.
  const deps = depsOf({ a: [], b: ["a"], c: ["a"], d: ["b", "c"], e: ["d"] });
  const r = recorder({ a: 5, b: 30, c: 1, d: 5, e: 1 });
  const results = await schedule(["a", "b", "c", "d", "e"], deps, r.run, {
    keepGoing: false,
    signal: never(),
  });
  assert.deepEqual(Object.fromEntries(results), { a: "ok", b: "ok", c: "ok", d: "ok", e: "ok" });
  for (const [id, ds] of deps) {
    for (const d of ds) {
      assert.ok(
        r.events.indexOf(`end ${d}`) < r.events.indexOf(`start ${id}`),
        `${d} must end before ${id} starts: ${r.events.join(", ")}`,
      );
    }
  }
  // b and c ran in parallel: c started before b ended.
  assert.ok(r.events.indexOf("start c") < r.events.indexOf("end b"), r.events.join(", "));
});

Deno.test("schedule() starts each task once its own dependencies are done, not in waves", async () => {
  // `fast2` depends only on the fast task, so it must not wait for `slow`.
  const deps = depsOf({ slow: [], fast: [], fast2: ["fast"] });
  const r = recorder({ slow: 50, fast: 1, fast2: 1 });
  await schedule(["slow", "fast", "fast2"], deps, r.run, { keepGoing: false, signal: never() });
  assert.ok(r.events.indexOf("end fast2") < r.events.indexOf("end slow"), r.events.join(", "));
});

Deno.test("schedule() skips the dependents of a failed task without running them", async () => {
  const deps = depsOf({ a: [], b: ["a"], c: ["b"], d: [] });
  const r = recorder({}, ["a"]);
  const results = await schedule(["a", "b", "c", "d"], deps, r.run, {
    keepGoing: true,
    signal: never(),
  });
  assert.deepEqual(Object.fromEntries(results), {
    a: "failed",
    b: "skipped",
    c: "skipped",
    d: "ok",
  });
  assert.deepEqual(r.started().sort(), ["a", "d"]);
});

Deno.test("schedule() starts no new task after a failure when keepGoing is false", async () => {
  // `bad` fails at 5 ms while `long` (independent) is still running; `after` would become ready
  // when `long` ends, and `late` depends on `after`.
  const deps = depsOf({ bad: [], long: [], after: ["long"], late: ["after"] });
  const r = recorder({ bad: 5, long: 40 }, ["bad"]);
  const results = await schedule(["bad", "long", "after", "late"], deps, r.run, {
    keepGoing: false,
    signal: never(),
  });
  assert.deepEqual(Object.fromEntries(results), {
    bad: "failed",
    long: "ok", // already running: allowed to finish
    after: "skipped",
    late: "skipped",
  });
  assert.deepEqual(r.started().sort(), ["bad", "long"]);
  assert.ok(r.events.includes("end long"), "the running task was awaited, not abandoned");
});

Deno.test("schedule() continues independent branches after a failure when keepGoing is true", async () => {
  const deps = depsOf({ bad: [], long: [], after: ["long"], late: ["after"], dep: ["bad"] });
  const r = recorder({ bad: 5, long: 40 }, ["bad"]);
  const results = await schedule(["bad", "long", "after", "late", "dep"], deps, r.run, {
    keepGoing: true,
    signal: never(),
  });
  assert.deepEqual(Object.fromEntries(results), {
    bad: "failed",
    long: "ok",
    after: "ok",
    late: "ok",
    dep: "skipped",
  });
  assert.deepEqual(r.started().sort(), ["after", "bad", "late", "long"]);
});

Deno.test("schedule() stops starting tasks once the signal is aborted", async () => {
  const ac = new AbortController();
  const deps = depsOf({ a: [], b: ["a"], c: ["b"], x: [] });
  const events: string[] = [];
  const results = await schedule(["a", "b", "c", "x"], deps, async (id) => {
    events.push(id);
    await sleep(1);
    if (id === "a") ac.abort();
    await sleep(5);
    return "ok";
  }, { keepGoing: true, signal: ac.signal });
  // a and x were started before the abort (and finish); b became ready after it.
  assert.deepEqual(events.sort(), ["a", "x"]);
  assert.deepEqual(Object.fromEntries(results), { a: "ok", b: "skipped", c: "skipped", x: "ok" });
});

Deno.test("schedule() runs nothing and skips everything when aborted before it starts", async () => {
  const ac = new AbortController();
  ac.abort();
  let calls = 0;
  const results = await schedule(["a", "b"], depsOf({ a: [], b: ["a"] }), () => {
    calls++;
    return Promise.resolve("ok");
  }, { keepGoing: false, signal: ac.signal });
  assert.equal(calls, 0);
  assert.deepEqual(Object.fromEntries(results), { a: "skipped", b: "skipped" });
});

Deno.test("schedule() resolves with an empty map when there are no tasks", async () => {
  const results = await schedule([], new Map(), () => Promise.resolve("ok"), {
    keepGoing: false,
    signal: never(),
  });
  assert.equal(results.size, 0);
});

Deno.test("schedule() rejects when a run throws", async () => {
  await assert.rejects(
    schedule(["a"], depsOf({ a: [] }), () => Promise.reject(new Error("bug")), {
      keepGoing: false,
      signal: never(),
    }),
    /bug/,
  );
});

Deno.test("Semaphore limits concurrent holders to its size", async () => {
  for (const size of [1, 3]) {
    const sem = new Semaphore(size);
    let active = 0, max = 0;
    await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const release = await sem.acquire();
      active++;
      max = Math.max(max, active);
      await sleep(2 + (i % 3));
      active--;
      release();
    }));
    assert.equal(max, size, `size ${size}`);
  }
});

Deno.test("Semaphore wakes waiters in FIFO order", async () => {
  const sem = new Semaphore(1);
  const first = await sem.acquire();
  const order: number[] = [];
  const waiters = [1, 2, 3].map(async (n) => {
    const release = await sem.acquire();
    order.push(n);
    release();
  });
  await sleep(1);
  assert.deepEqual(order, [], "no slot until the holder releases");
  first();
  await Promise.all(waiters);
  assert.deepEqual(order, [1, 2, 3]);
});

Deno.test("Semaphore frees one slot when a release function is called twice", async () => {
  const sem = new Semaphore(1);
  const release = await sem.acquire();
  release();
  release(); // must not add a second slot
  const a = await sem.acquire();
  let gotB = false;
  const b = sem.acquire().then((r) => {
    gotB = true;
    return r;
  });
  await sleep(1);
  assert.equal(gotB, false, "a double release must not let two holders in");
  a();
  (await b)();
  assert.equal(gotB, true);
});
