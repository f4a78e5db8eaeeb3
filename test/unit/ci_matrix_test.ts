import assert from "node:assert/strict";
import { parse } from "yaml";
import { ciMatrix, ciMatrixCommand, parseTargets, templateDistro } from "../../cli/ci_cmd.ts";
import { loadGraph } from "../../cli/load.ts";
import { ConfigError } from "../../engine/failure.ts";
import { buildGraph } from "../../engine/graph.ts";
import { cmd, type Task } from "../../engine/task.ts";
import { REPO } from "../rig/workspace.ts";

interface CatalogFile {
  distros: Record<string, { version: string; iso: { urls: string[] } }>;
}

/** The catalog as the file has it, read now: the matrix must follow it, not a copied list. */
function catalogFile(): CatalogFile {
  return parse(Deno.readTextFileSync(`${REPO}/iso/catalog.yaml`)) as CatalogFile;
}

/** Distros whose ISO comes from the internet (the demo's is served on loopback by the build). */
function upstreamDistros(c: CatalogFile): string[] {
  return Object.entries(c.distros)
    .filter(([, d]) => !d.iso.urls.some((u) => /^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u)))
    .map(([id]) => id)
    .sort();
}

Deno.test("ciMatrix() lists every OS template of the real DAG that has an upstream ISO", async () => {
  const catalog = catalogFile();
  const expected = upstreamDistros(catalog);
  assert.ok(expected.length >= 2, "the catalog has real distros");
  assert.ok(Object.keys(catalog.distros).length > expected.length, "and a local one to leave out");
  const graph = await loadGraph(undefined);
  const { include } = ciMatrix(graph);
  assert.deepEqual(include.map((e) => e.distro), expected);
  for (const e of include) {
    assert.equal(e.target, `image:${e.distro}:compress`);
    assert.ok(graph.tasks.has(e.target), `${e.target} is a task`);
    assert.equal(e.name, `${e.distro} ${catalog.distros[e.distro].version}`);
    assert.equal(e.outputs, graph.tasks.get(e.target)!.outputs!.join("\n"));
    assert.equal(e.outputs, `dist/images/${e.distro}`);
  }
  assert.ok(include.every((e) => !e.target.startsWith("release:")));
});

Deno.test("ciMatrixCommand() prints the matrix as one line of JSON", async () => {
  let printed = "";
  const code = await ciMatrixCommand({ json: true }, (s) => void (printed += s));
  assert.equal(code, 0);
  assert.ok(printed.endsWith("\n") && printed.indexOf("\n") === printed.length - 1, "one line");
  const matrix = JSON.parse(printed);
  assert.deepEqual(Object.keys(matrix), ["include"]);
  assert.deepEqual(
    matrix.include.map((e: { distro: string }) => e.distro),
    upstreamDistros(catalogFile()),
  );
  assert.deepEqual(Object.keys(matrix.include[0]).sort(), ["distro", "name", "outputs", "target"]);
});

Deno.test("ciMatrixCommand() builds only --targets, which may name a local template", async () => {
  const local = Object.keys(catalogFile().distros).find((d) =>
    !upstreamDistros(catalogFile()).includes(d)
  )!;
  const first = upstreamDistros(catalogFile())[0];
  let printed = "";
  await ciMatrixCommand(
    { targets: `image:${local}:compress, ${first} ${first}` },
    (s) => void (printed += s),
  );
  const { include } = JSON.parse(printed);
  assert.deepEqual(include.map((e: { target: string }) => e.target), [
    `image:${local}:compress`,
    `image:${first}:compress`,
  ]);
});

Deno.test("ciMatrix() rejects a target that is not an OS template", async () => {
  const graph = await loadGraph(undefined);
  for (const bad of ["release:deb", "image:nope:compress", "nope", "iso:ubuntu:fetch"]) {
    assert.throws(
      () => ciMatrix(graph, [bad]),
      (e) =>
        e instanceof ConfigError &&
        e.message.startsWith(`Target "${bad}" is not an OS template; name an image:<distro>`) &&
        e.message.includes("image:"),
      bad,
    );
  }
});

Deno.test("ciMatrix() decides from the graph: image:<d>:compress tasks, not fetched locally", () => {
  const t = (id: string, deps: string[] = [], params?: Task["params"]): Task => ({
    id,
    deps,
    params,
    outputs: [`out/${id.replaceAll(":", "_")}`],
    action: cmd("true"),
  });
  const graph = buildGraph({
    root: "/nonexistent",
    pools: {},
    tasks: [
      t("mirror:make"),
      t("iso:local:fetch", ["mirror:make"]),
      t("image:local:compress", ["iso:local:fetch"]),
      t("iso:zeta:fetch"),
      t("image:zeta:compress", ["iso:zeta:fetch"], { version: "2" }),
      t("image:alpha:compress"), // no fetch step at all: still a template
      t("image:alpha:validate"),
      t("release:files"),
    ],
  });
  assert.deepEqual(ciMatrix(graph).include, [
    {
      distro: "alpha",
      target: "image:alpha:compress",
      name: "alpha",
      outputs: "out/image_alpha_compress",
    },
    {
      distro: "zeta",
      target: "image:zeta:compress",
      name: "zeta 2",
      outputs: "out/image_zeta_compress",
    },
  ]);
  assert.equal(ciMatrix(graph, ["local"]).include[0].target, "image:local:compress");
});

Deno.test("templateDistro() and parseTargets() read ids and the --targets list", () => {
  assert.equal(templateDistro("image:centos-stream:compress"), "centos-stream");
  assert.equal(templateDistro("image:demo:packer"), null);
  assert.equal(templateDistro("image:a:b:compress"), null);
  assert.deepEqual(parseTargets(" a  b,c\n"), ["a", "b", "c"]);
  assert.deepEqual(parseTargets(""), []);
  assert.deepEqual(parseTargets(undefined), []);
});
