import assert from "node:assert/strict";
import { ConfigError } from "../../engine/failure.ts";
import { loadYamlConfig, loadYamlGraph } from "../../engine/yaml_config.ts";
import { parseYamlTasks } from "../../engine/yaml_parse.ts";

const FULL = `# the documented shape, every field
tasks:
  t0:
    cmd: echo 0 > out/0.txt
    outputs: [out/0.txt]
  t1:
    cmd: cat src/1.txt out/0.txt > out/1.txt
    deps: [t0]
    inputs: [src/1.txt]
    outputs: [out/1.txt]
    env: [LANG]
    pool: vm
    description: Concatenates one and zero
    params: {k: v, n: 2, list: [1, true, null], nested: {a: b}}
    tools: [gcc, {name: packer, args: [version]}]
    platform: true
pools: { vm: 1 }
`;

/** Writes `text` as `kiln.yaml` in a fresh temp dir; returns the dir and the file's path. */
async function workspace(text: string): Promise<{ dir: string; file: string }> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "kiln_yaml_" }));
  const file = `${dir}/kiln.yaml`;
  await Deno.writeTextFile(file, text);
  return { dir, file };
}

/** Loads `text` and returns the one-line ConfigError message it must fail with. */
async function loadError(text: string): Promise<string> {
  const { dir, file } = await workspace(text);
  try {
    await loadYamlConfig(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message must be one line: ${e.message}`);
    assert.ok(!e.message.endsWith("."), `no final period: ${e.message}`);
    assert.ok(e.message.startsWith(`${file}:`), `names the file: ${e.message}`);
    return e.message.slice(dir.length + 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

/** `to` as a path relative to the working directory, with a `./x/..` detour to normalize. */
function relativeFromCwd(to: string): string {
  const from = Deno.cwd().split("/").filter(Boolean);
  const parts = to.split("/").filter(Boolean);
  let common = 0;
  while (common < from.length && from[common] === parts[common]) common++;
  return ["."].concat(
    Array(from.length - common).fill(".."),
    parts.slice(common, -1),
    ["x", ".."],
    parts.slice(-1),
  ).join("/");
}

Deno.test("loadYamlConfig() returns every field when the documented shape is used", async () => {
  const { dir, file } = await workspace(FULL);
  try {
    const set = await loadYamlConfig(file);
    assert.equal(set.root, dir);
    assert.deepEqual(set.pools, { vm: 1 });
    assert.deepEqual(set.tasks.map((t) => t.id), ["t0", "t1"]);
    assert.deepEqual(set.tasks[1], {
      id: "t1",
      description: "Concatenates one and zero",
      deps: ["t0"],
      inputs: ["src/1.txt"],
      outputs: ["out/1.txt"],
      env: ["LANG"],
      params: { k: "v", n: 2, list: [1, true, null], nested: { a: "b" } },
      tools: [{ name: "gcc" }, { name: "packer", args: ["version"] }],
      platform: true,
      pool: "vm",
      action: { kind: "cmd", cmd: "cat src/1.txt out/0.txt > out/1.txt" },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlConfig() fills in defaults when optional fields are left out", async () => {
  const { dir, file } = await workspace("tasks:\n  hi:\n    cmd: echo hi\n");
  try {
    const set = await loadYamlConfig(file);
    assert.deepEqual(set.pools, {});
    assert.deepEqual(set.tasks, [{
      id: "hi",
      deps: [],
      inputs: [],
      outputs: [],
      env: [],
      params: {},
      tools: [],
      platform: false,
      action: { kind: "cmd", cmd: "echo hi" },
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlConfig() resolves the root to an absolute folder when given a relative path", async () => {
  const { dir, file } = await workspace("tasks:\n  hi:\n    cmd: echo hi\n");
  try {
    const rel = relativeFromCwd(file);
    assert.ok(!rel.startsWith("/"));
    const set = await loadYamlConfig(rel);
    assert.equal(set.root, dir);
    assert.ok(set.root.startsWith("/"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlConfig() names the line and key path when a key is unknown", async () => {
  const message = await loadError(
    "tasks:\n  t1:\n    cmd: touch out/1.txt\n    output: [out/1.txt]\n",
  );
  assert.equal(
    message,
    `kiln.yaml:4: tasks.t1.output: unknown key "output"; rename it to outputs`,
  );
});

Deno.test("loadYamlConfig() lists the valid keys when an unknown key is no near miss", async () => {
  const message = await loadError("tasks:\n  t1:\n    cmd: x\n    banana: 1\n");
  assert.match(message, /^kiln\.yaml:4: tasks\.t1\.banana: unknown key "banana"; use one of cmd, /);
});

Deno.test("loadYamlConfig() reports the typo, not the missing key, when cmd is misspelt", async () => {
  const message = await loadError("tasks:\n  t1:\n    outputs: [a]\n    cdm: make\n");
  assert.equal(
    message,
    `kiln.yaml:4: tasks.t1.cdm: unknown key "cdm"; rename it to cmd`,
  );
});

Deno.test("loadYamlConfig() says how to write a list when deps is a string", async () => {
  const message = await loadError(
    "tasks:\n  t0:\n    cmd: a\n  t1:\n    cmd: b\n\n    deps: t0\n",
  );
  assert.equal(
    message,
    "kiln.yaml:7: tasks.t1.deps: expected a list of task ids, got a string; write deps: [t0]",
  );
});

Deno.test("loadYamlConfig() points at the item when a list holds the wrong type", async () => {
  const message = await loadError("tasks:\n  t1:\n    cmd: a\n    inputs:\n      - a\n      - 3\n");
  assert.equal(
    message,
    `kiln.yaml:6: tasks.t1.inputs[1]: expected a file or glob, got the number 3; quote it: "3"`,
  );
  const platform = await loadError("tasks:\n  t1:\n    cmd: a\n    platform: yes\n");
  assert.equal(
    platform,
    `kiln.yaml:4: tasks.t1.platform: expected true or false, got the string "yes"; write platform: true`,
  );
});

Deno.test("loadYamlConfig() asks for cmd when a task has none", async () => {
  const message = await loadError("tasks:\n  t0:\n    cmd: a\n  t1:\n    deps: [t0]\n");
  assert.equal(
    message,
    "kiln.yaml:4: tasks.t1: missing cmd; add the command to run, e.g. cmd: make",
  );
  const empty = await loadError("tasks:\n  t1:\n    cmd: '  '\n");
  assert.match(empty, /^kiln\.yaml:3: tasks\.t1\.cmd: expected a shell command, got the string/);
  const bare = await loadError("tasks:\n  t1:\n");
  assert.match(bare, /^kiln\.yaml:2: tasks\.t1: expected a task \(a map with at least cmd\), got/);
});

Deno.test("loadYamlConfig() rejects a pool size when it is not a positive whole number", async () => {
  const tasks = "tasks:\n  t1:\n    cmd: a\n";
  assert.equal(
    await loadError(`${tasks}pools:\n  vm: 0\n`),
    "kiln.yaml:5: pools.vm: expected a positive whole number, got the number 0; " +
      "write vm: 1 or more (how many of its tasks may run at once)",
  );
  assert.match(await loadError(`${tasks}pools: {vm: 1.5}\n`), /^kiln\.yaml:4: pools\.vm: .*1\.5/);
  assert.match(await loadError(`${tasks}pools: {vm: two}\n`), /^kiln\.yaml:4: pools\.vm: .*"two"/);
});

Deno.test("loadYamlConfig() gives the line when the YAML syntax is invalid", async () => {
  const message = await loadError("tasks:\n  t1:\n    cmd: a\n    deps: [t0\n");
  assert.match(message, /^kiln\.yaml:\d+: invalid YAML at column \d+: .+; .+/);
  const tab = await loadError("tasks:\n\tt1:\n");
  assert.match(tab, /^kiln\.yaml:2: invalid YAML .*; indent with spaces, not tabs$/);
});

Deno.test("loadYamlConfig() rejects a key when it appears twice in one map", async () => {
  const message = await loadError("tasks:\n  t1:\n    cmd: a\n  t1:\n    cmd: b\n");
  assert.equal(
    message,
    `kiln.yaml:4: tasks.t1: duplicate key "t1"; remove or rename one of them`,
  );
  const inner = await loadError("tasks:\n  t1:\n    cmd: a\n    cmd: b\n");
  assert.match(inner, /^kiln\.yaml:4: tasks\.t1\.cmd: duplicate key "cmd"/);
});

Deno.test("loadYamlConfig() names the line when a dependency or pool is not declared", async () => {
  assert.equal(
    await loadError("tasks:\n  t1:\n    cmd: a\n    deps: [t0]\n"),
    `kiln.yaml:4: tasks.t1.deps[0]: unknown task "t0"; declare it under tasks or remove it from deps`,
  );
  assert.match(
    await loadError("tasks:\n  t1:\n    cmd: a\n    pool: vm\n"),
    /^kiln\.yaml:4: tasks\.t1\.pool: unknown pool "vm"; declare it/,
  );
});

Deno.test("loadYamlConfig() rejects a param when JSON cannot hold it", async () => {
  assert.match(
    await loadError("tasks:\n  t1:\n    cmd: a\n    params:\n      x: [1, .nan]\n"),
    /^kiln\.yaml:5: tasks\.t1\.params\.x\[1\]: expected a JSON value, got NaN/,
  );
});

Deno.test("loadYamlConfig() explains the fix when the file is empty or has no tasks", async () => {
  assert.match(await loadError(""), /^kiln\.yaml:1: the file declares no tasks; add a tasks: map$/);
  assert.match(await loadError("pools: {}\n"), /^kiln\.yaml:1: missing tasks; add a tasks: map/);
  assert.match(await loadError("- a\n"), /^kiln\.yaml:1: expected a map with a tasks: key, got/);
});

Deno.test("loadYamlConfig() says to pass an existing file when the file is missing", async () => {
  await assert.rejects(
    loadYamlConfig("/nonexistent/kiln-test/x.yaml"),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message ===
        `Cannot read task file "/nonexistent/kiln-test/x.yaml": not found; pass an existing file with --file`,
  );
});

Deno.test("loadYamlGraph() reuses the cached parse and graph when the text is unchanged", async () => {
  const { dir, file } = await workspace(FULL);
  const cachePath = `${dir}/.kiln/config-cache.json`;
  try {
    const first = await loadYamlGraph(file);
    const cache = JSON.parse(await Deno.readTextFile(cachePath));
    assert.equal(cache.v, 2);
    assert.equal(cache.file, file);
    assert.equal(cache.source, FULL);
    assert.deepEqual(cache.parsed.tasks.map((t: { id: string }) => t.id), ["t0", "t1"]);
    assert.deepEqual(cache.shape, { order: ["t0", "t1"], deps: { t0: [], t1: ["t0"] } });
    assert.deepEqual([...Deno.readDirSync(`${dir}/.kiln`)].map((e) => e.name), [
      "config-cache.json",
    ]);

    // Swap in a parse the YAML could never produce: only a cache hit can return it.
    const task = (id: string, deps: string[]) => ({
      id,
      cmd: `echo ${id}`,
      deps,
      inputs: [],
      outputs: [],
      env: [],
      params: {},
      tools: [],
      platform: false,
    });
    cache.parsed = { tasks: [task("m1", ["m0"]), task("m0", [])], pools: { marker: 7 } };
    cache.shape = { order: ["m0", "m1"], deps: { m0: [], m1: ["m0"] } };
    await Deno.writeTextFile(cachePath, JSON.stringify(cache));
    const second = await loadYamlGraph(file);
    assert.deepEqual(second.order, ["m0", "m1"]);
    assert.deepEqual(second.pools, { marker: 7 });
    assert.deepEqual(second.tasks.get("m1")!.action, { kind: "cmd", cmd: "echo m1" });
    assert.deepEqual((await loadYamlConfig(file)).tasks.map((t) => t.id), ["m1", "m0"]);

    // A shape that does not fit its tasks is validated again (and cached again).
    cache.shape = { order: ["m1", "m0"], deps: { m0: [], m1: ["m0"] } };
    await Deno.writeTextFile(cachePath, JSON.stringify(cache));
    assert.deepEqual((await loadYamlGraph(file)).order, ["m0", "m1"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(cachePath)).shape.order, ["m0", "m1"]);

    // Any edit to the text, even a comment, invalidates the cache.
    await Deno.writeTextFile(file, FULL + "# edited\n");
    const third = await loadYamlGraph(file);
    assert.deepEqual([...third.tasks.values()], [...first.tasks.values()]);
    const rewritten = JSON.parse(await Deno.readTextFile(cachePath));
    assert.equal(rewritten.source, FULL + "# edited\n");
    assert.deepEqual(rewritten.parsed.pools, { vm: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlGraph() caches nothing when the graph is invalid", async () => {
  const bad =
    "tasks:\n  a:\n    cmd: x\n    outputs: [out]\n  b:\n    cmd: y\n    outputs: [out/b]\n";
  const { dir, file } = await workspace(bad);
  try {
    await assert.rejects(() => loadYamlGraph(file), ConfigError);
    assert.throws(() => Deno.statSync(`${dir}/.kiln/config-cache.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlConfig() parses again when the cache file is corrupt", async () => {
  const { dir, file } = await workspace(FULL);
  try {
    await Deno.mkdir(`${dir}/.kiln`);
    await Deno.writeTextFile(`${dir}/.kiln/config-cache.json`, "{not json");
    const set = await loadYamlConfig(file);
    assert.deepEqual(set.tasks.map((t) => t.id), ["t0", "t1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadYamlConfig() imports no npm or node module statically when loaded", async () => {
  const source = await Deno.readTextFile(new URL("../../engine/yaml_config.ts", import.meta.url));
  const imports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gm)]
    .filter((m) => !m[1])
    .map((m) => m[2]);
  assert.ok(imports.length > 0);
  for (const spec of imports) assert.match(spec, /^\.\/[a-z_]+\.ts$/, `static import ${spec}`);
});

Deno.test("parseYamlTasks() returns plain JSON data when given valid YAML", async () => {
  const parsed = await parseYamlTasks(FULL, "kiln.yaml");
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), parsed);
  assert.deepEqual(parsed.tasks[0], {
    id: "t0",
    cmd: "echo 0 > out/0.txt",
    deps: [],
    inputs: [],
    outputs: ["out/0.txt"],
    env: [],
    params: {},
    tools: [],
    platform: false,
  });
});
