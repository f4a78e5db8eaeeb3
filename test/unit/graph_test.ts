import assert from "node:assert/strict";
import { ConfigError } from "../../engine/failure.ts";
import {
  buildGraph,
  type Graph,
  graphFromShape,
  graphShape,
  selectTasks,
} from "../../engine/graph.ts";
import { cmd, type Task } from "../../engine/task.ts";

const ROOT = "/ws";

/** A task with a no-op command; `extra` overrides any field. */
function t(id: string, extra: Partial<Task> = {}): Task {
  return { id, action: cmd("true"), ...extra };
}

function graph(tasks: Task[], pools: Record<string, number> = {}): Graph {
  return buildGraph({ tasks, pools, root: ROOT });
}

/** Builds the graph and returns the one-line ConfigError message it must fail with. */
function graphError(tasks: Task[], pools: Record<string, number> = {}): string {
  try {
    graph(tasks, pools);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message must be one line: ${e.message}`);
    return e.message;
  }
  assert.fail("expected buildGraph() to throw");
}

function assertBefore(order: readonly string[], first: string, then: string): void {
  assert.ok(
    order.indexOf(first) >= 0 && order.indexOf(first) < order.indexOf(then),
    `${first} must come before ${then} in ${order.join(",")}`,
  );
}

Deno.test("buildGraph() throws a ConfigError printing the cycle when two tasks depend on each other", () => {
  const msg = graphError([t("a", { deps: ["b"] }), t("b", { deps: ["a"] })]);
  assert.equal(msg, "Dependency cycle: a -> b -> a; remove one of these dependencies");
});

Deno.test("buildGraph() prints only the cycle when it is reached through other tasks", () => {
  const msg = graphError([
    t("top", { deps: ["x"] }),
    t("x", { deps: ["y"] }),
    t("y", { deps: ["z"] }),
    t("z", { deps: ["x"] }),
  ]);
  assert.equal(msg, "Dependency cycle: x -> y -> z -> x; remove one of these dependencies");
});

Deno.test("buildGraph() reports a self-dependency as a cycle", () => {
  assert.equal(
    graphError([t("a", { deps: ["a"] })]),
    "Dependency cycle: a -> a; remove one of these dependencies",
  );
});

Deno.test("buildGraph() reports a cycle made through an implicit output dependency", () => {
  // b reads a's output (implicit edge b -> a); a declares b as a dependency.
  const msg = graphError([
    t("a", { deps: ["b"], outputs: ["out/a.txt"] }),
    t("b", { inputs: ["out/a.txt"], outputs: ["out/b.txt"] }),
  ]);
  assert.equal(msg, "Dependency cycle: a -> b -> a; remove one of these dependencies");
});

Deno.test("buildGraph() throws a ConfigError when a dependency is unknown", () => {
  assert.equal(
    graphError([t("a"), t("b", { deps: ["a", "nope"] })]),
    'Task "b" depends on unknown task "nope"; declare "nope" or remove it from deps',
  );
});

Deno.test("buildGraph() throws a ConfigError when two tasks declare the same output", () => {
  assert.equal(
    graphError([t("a", { outputs: ["out/x.txt"] }), t("b", { outputs: ["./out//x.txt"] })]),
    'Tasks "a" and "b" both declare output "out/x.txt"; give each output one owner',
  );
});

Deno.test("buildGraph() accepts one task listing the same output twice", () => {
  const g = graph([t("a", { outputs: ["out/x.txt", "out/./x.txt"] })]);
  assert.deepEqual(g.tasks.get("a")!.outputs, ["out/x.txt"]);
  assert.equal(g.outputOwner.get("out/x.txt"), "a");
});

Deno.test("buildGraph() throws a ConfigError when an output lies inside another task's output", () => {
  assert.equal(
    graphError([t("a", { outputs: ["out/dir"] }), t("b", { outputs: ["out/dir/sub/x.txt"] })]),
    'Output "out/dir/sub/x.txt" of task "b" lies inside output "out/dir" of task "a"; move it out',
  );
});

Deno.test("buildGraph() accepts sibling outputs that only share a name prefix", () => {
  const g = graph([t("a", { outputs: ["out/dir"] }), t("b", { outputs: ["out/dir2/x.txt"] })]);
  assert.equal(g.outputOwner.get("out/dir2/x.txt"), "b");
});

Deno.test("buildGraph() throws a ConfigError when a task id is invalid", () => {
  const hint = 'use letters, digits and "._:/-", starting with a letter or digit';
  assert.equal(graphError([t("has space")]), `Task id "has space" is invalid; ${hint}`);
  assert.equal(graphError([t("-dash")]), `Task id "-dash" is invalid; ${hint}`);
  assert.equal(graphError([t("a/../b")]), `Task id "a/../b" is invalid; ${hint}`);
  assert.equal(graphError([t("")]), `Task id "" is invalid; ${hint}`);
  // The valid punctuation is accepted.
  assert.ok(graph([t("iso:build/x86_64-v1.2")]).tasks.has("iso:build/x86_64-v1.2"));
});

Deno.test("buildGraph() throws a ConfigError when a path escapes the workspace", () => {
  const hint = "use a path relative to the workspace root";
  assert.equal(
    graphError([t("a", { inputs: ["src/../../etc/passwd"] })]),
    `Task "a" declares input "src/../../etc/passwd" outside the workspace; ${hint}`,
  );
  assert.equal(
    graphError([t("a", { outputs: ["/tmp/out.txt"] })]),
    `Task "a" declares output "/tmp/out.txt" outside the workspace; ${hint}`,
  );
  assert.equal(
    graphError([t("a", { outputs: ["."] })]),
    `Task "a" declares output "." outside the workspace; ${hint}`,
  );
});

Deno.test("buildGraph() normalizes declared paths when they stay inside the workspace", () => {
  const g = graph([t("a", { inputs: ["./src//x/../a.txt"], outputs: ["out/./b.txt"] })]);
  assert.deepEqual(g.tasks.get("a")!.inputs, ["src/a.txt"]);
  assert.deepEqual(g.tasks.get("a")!.outputs, ["out/b.txt"]);
});

Deno.test("buildGraph() throws a ConfigError when a task uses an unknown pool", () => {
  assert.equal(
    graphError([t("a", { pool: "gpu" })], { vm: 1 }),
    'Task "a" uses unknown pool "gpu"; declare it under pools or remove it',
  );
  assert.equal(graph([t("a", { pool: "vm" })], { vm: 1 }).pools.vm, 1);
});

Deno.test("buildGraph() throws a ConfigError when a pool size is not a positive integer", () => {
  assert.equal(
    graphError([t("a")], { vm: 0 }),
    'Pool "vm" has size 0; use a whole number of at least 1',
  );
});

Deno.test("buildGraph() throws a ConfigError when a task is declared twice", () => {
  assert.equal(graphError([t("a"), t("a")]), 'Task "a" is declared twice; rename one');
});

Deno.test("buildGraph() orders dependencies before dependents when declared in reverse", () => {
  const g = graph([
    t("d", { deps: ["b", "c"] }),
    t("c", { deps: ["a"] }),
    t("b", { deps: ["a"] }),
    t("a"),
    t("lone"),
  ]);
  assert.equal(g.order.length, 5);
  assert.deepEqual(new Set(g.order), new Set(["a", "b", "c", "d", "lone"]));
  for (const [id, ds] of g.deps) for (const d of ds) assertBefore(g.order, d, id);
});

Deno.test("buildGraph() keeps declaration order among independent tasks", () => {
  const g = graph([t("z"), t("m"), t("a"), t("y", { deps: ["a"] })]);
  assert.deepEqual(g.order, ["z", "m", "a", "y"]);
});

Deno.test("buildGraph() adds an implicit dependency when a literal input lies inside another task's output", () => {
  const g = graph([
    t("use", { inputs: ["gen/out/data/file.txt", "src/own.txt"], outputs: ["use.txt"] }),
    t("gen", { outputs: ["gen/out"] }),
    t("exact", { inputs: ["use.txt"] }),
    t("unrelated", { inputs: ["gen/outside.txt"] }),
  ]);
  assert.deepEqual(g.deps.get("use"), ["gen"]);
  assert.deepEqual(g.deps.get("exact"), ["use"], "an input equal to an output is a dependency");
  assert.deepEqual(g.deps.get("unrelated"), [], "a sibling of an output is not inside it");
  assertBefore(g.order, "gen", "use");
  assertBefore(g.order, "use", "exact");
  // The declared deps are left alone; only the graph's edge list gains the implicit one.
  assert.deepEqual(g.tasks.get("use")!.deps, []);
});

Deno.test("buildGraph() does not duplicate an implicit dependency that is also declared", () => {
  const g = graph([
    t("gen", { outputs: ["out/a.txt", "out/b.txt"] }),
    t("use", { deps: ["gen"], inputs: ["out/a.txt", "out/b.txt"] }),
  ]);
  assert.deepEqual(g.deps.get("use"), ["gen"]);
});

Deno.test("selectTasks() returns the dependency closure of the targets in topological order", () => {
  const g = graph([
    t("app", { deps: ["lib", "cfg"] }),
    t("lib", { deps: ["gen"] }),
    t("gen"),
    t("cfg"),
    t("docs", { deps: ["gen"] }),
    t("other"),
  ]);
  const sel = selectTasks(g, ["app"]);
  assert.deepEqual(new Set(sel), new Set(["app", "lib", "gen", "cfg"]));
  assert.deepEqual(sel, g.order.filter((id) => sel.includes(id)), "must follow graph order");
  assertBefore(sel, "gen", "lib");
  assertBefore(sel, "lib", "app");
  assert.deepEqual(selectTasks(g, ["docs", "cfg"]).sort(), ["cfg", "docs", "gen"]);
  assert.deepEqual(selectTasks(g, ["gen"]), ["gen"]);
});

Deno.test("selectTasks() follows implicit dependencies when selecting", () => {
  const g = graph([t("gen", { outputs: ["out/g.txt"] }), t("use", { inputs: ["out/g.txt"] })]);
  assert.deepEqual(selectTasks(g, ["use"]), ["gen", "use"]);
});

Deno.test("selectTasks() returns every task when there are no targets", () => {
  const g = graph([t("b", { deps: ["a"] }), t("a"), t("c")]);
  assert.deepEqual(selectTasks(g, []), [...g.order]);
  assert.equal(selectTasks(g, []).length, 3);
});

Deno.test("selectTasks() throws a ConfigError when a target is unknown", () => {
  const g = graph([t("a")]);
  assert.throws(
    () => selectTasks(g, ["a", "nope"]),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === 'Unknown task "nope"; run "kiln list" to see the tasks',
  );
});

Deno.test("graphFromShape() gives buildGraph()'s graph when the shape came from it", () => {
  const tasks = [
    t("b", { deps: ["a"], outputs: ["./out/b"] }),
    t("a", { outputs: ["gen"] }),
    t("c", { inputs: ["out/b/x", "gen/y"] }),
  ];
  const set = { tasks, pools: {}, root: "/w" };
  const built = buildGraph(set);
  const again = graphFromShape({ ...set, tasks: [...built.tasks.values()] }, graphShape(built));
  assert.ok(again);
  assert.deepEqual(again.order, built.order);
  assert.deepEqual(again.deps, built.deps);
  assert.deepEqual(again.outputOwner, built.outputOwner);
  assert.deepEqual(again.tasks, built.tasks);
});

Deno.test("graphFromShape() returns null when the shape does not fit the tasks", () => {
  const set = { tasks: [t("a"), t("b", { deps: ["a"] })], pools: {}, root: "/w" };
  const fits = (order: string[], deps: Record<string, string[]>) =>
    graphFromShape(set, { order, deps }) !== null;
  assert.ok(fits(["a", "b"], { a: [], b: ["a"] }));
  assert.ok(!fits(["b", "a"], { a: [], b: ["a"] }), "a dependent before its dependency");
  assert.ok(!fits(["a", "b"], { a: [], b: [] }), "a declared dependency left out");
  assert.ok(!fits(["a"], { a: [] }), "a task missing");
  assert.ok(!fits(["a", "b", "c"], { a: [], b: ["a"], c: [] }), "an unknown task");
  assert.ok(!fits(["a", "a"], { a: [] }), "a task twice");
  assert.ok(!fits(["a", "b"], { a: ["z"], b: ["a"] }), "an unknown dependency");
  assert.ok(!fits(["a", "b"], { a: [] }), "deps missing for a task");
});
