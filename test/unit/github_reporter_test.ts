import assert from "node:assert/strict";
import {
  ciReporter,
  escapeData,
  escapeProperty,
  GitHubReporter,
  outputEntry,
  workflowCommand,
} from "../../cli/github_reporter.ts";
import { CliReporter } from "../../cli/reporter.ts";
import type { TaskOutcome } from "../../engine/events.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/**
 * Parses a `$GITHUB_OUTPUT` file the way GitHub's runner documents it: `name=value` lines, and
 * `name<<DELIMITER` followed by value lines up to a line that is exactly the delimiter.
 */
function parseOutputFile(text: string): Map<string, string> {
  const lines = text.split("\n");
  const out = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const eq = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      out.set(line.slice(0, eq), line.slice(eq + 1));
      continue;
    }
    assert.ok(heredoc > 0, `line ${i + 1} is neither name=value nor name<<delimiter: ${line}`);
    const delimiter = line.slice(heredoc + 2);
    const value: string[] = [];
    for (i++; lines[i] !== delimiter; i++) {
      assert.ok(i < lines.length, `delimiter ${delimiter} never closes`);
      value.push(lines[i]);
    }
    out.set(line.slice(0, heredoc), value.join("\n"));
  }
  return out;
}

/** A GitHub reporter around a real plain reporter, both writing to `writes`. */
function reporters(tmp: string, extra: { explain?: boolean; replay?: boolean } = {}) {
  const writes: string[] = [];
  const write = (t: string) => void writes.push(t);
  const base = new CliReporter({
    total: 5,
    live: false,
    explain: extra.explain ?? false,
    replay: extra.replay ?? false,
    quiet: false,
    write,
  });
  const graph = {
    tasks: new Map<string, { outputs?: readonly string[] }>([
      ["image:demo:packer", {
        outputs: ["build/images/demo/demo.qcow2", "build/images/demo/b.json"],
      }],
      ["image:demo:compress", { outputs: ["dist/images/demo"] }],
      ["quiet", { outputs: ["out/quiet.txt"] }],
      ["restored", { outputs: ["out/restored.txt"] }],
      ["up-to-date", { outputs: ["out/fresh.txt"] }],
      ["after-failure", { outputs: ["out/never.txt"] }],
    ]),
  };
  const gh = new GitHubReporter(base, {
    ...extra,
    graph,
    summaryPath: `${tmp}/summary.md`,
    outputPath: `${tmp}/output.txt`,
    runUrl: "https://github.com/acme/kiln/actions/runs/7",
    write,
  });
  return { gh, writes };
}

Deno.test("escapeData() and escapeProperty() encode what GitHub's workflow commands document", () => {
  assert.equal(escapeData("100% done\r\nnext: a, b"), "100%25 done%0D%0Anext: a, b");
  assert.equal(
    escapeProperty("100% done\r\nnext: a, b"),
    "100%25 done%0D%0Anext%3A a%2C b",
  );
  assert.equal(escapeData("%0A"), "%250A", "an existing escape is not decoded by the runner");
});

Deno.test("workflowCommand() writes ::name prop=value,prop=value::data", () => {
  assert.equal(
    workflowCommand("error", { title: "Task image:demo:packer failed", file: "a,b" }, "x: 1\ny"),
    "::error title=Task image%3Ademo%3Apacker failed,file=a%2Cb::x: 1%0Ay",
  );
  assert.equal(workflowCommand("warning", {}, "50%"), "::warning::50%25");
});

Deno.test("outputEntry() writes one line, or the heredoc form with a random delimiter", () => {
  assert.equal(outputEntry("ran", "3"), "ran=3\n");
  assert.equal(outputEntry("list", "a\nb", { delimiter: "EOF" }), "list<<EOF\na\nb\nEOF\n");
  assert.equal(outputEntry("one", "a", { heredoc: true, delimiter: "D" }), "one<<D\na\nD\n");
  const random = outputEntry("list", "a\nb");
  assert.match(random, /^list<<(ghadelimiter_[0-9a-f-]{36})\na\nb\n\1\n$/);
  assert.notEqual(random, outputEntry("list", "a\nb"), "each entry gets its own delimiter");
  assert.throws(() => outputEntry("list", "a\nEOF\nb", { delimiter: "EOF" }), /delimiter/);
  assert.throws(() => outputEntry("bad name", "x"), /bad output name/);
});

Deno.test("GitHubReporter.taskFinished() puts a task's log in a group with commands stopped", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const log = `${tmp}/packer.log`;
    Deno.writeTextFileSync(log, "==> qemu: booting\n::error::injected by the tool\n==> done\n");
    const { gh, writes } = reporters(tmp);
    gh.taskStarted("image:demo:packer", "run");
    gh.taskFinished({
      id: "image:demo:packer",
      status: "ran",
      durationMs: 1500,
      reasons: [],
      logPath: log,
    });
    const lines = writes.join("").trimEnd().split("\n");
    assert.equal(lines[0], "::group::image:demo:packer (ran in 1.5s)");
    const stop = /^::stop-commands::(kiln-[0-9a-f-]{36})$/.exec(lines[1]);
    assert.ok(stop, `commands are stopped first: ${lines[1]}`);
    assert.deepEqual(lines.slice(2), [
      "==> qemu: booting",
      "::error::injected by the tool",
      "==> done",
      `::${stop[1]}::`,
      "::endgroup::",
    ]);
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("GitHubReporter.taskFinished() keeps only the last maxLogLines lines of a long log", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const log = `${tmp}/long.log`;
    Deno.writeTextFileSync(log, Array.from({ length: 10 }, (_, i) => `line ${i}`).join("\n"));
    const writes: string[] = [];
    const base = new CliReporter({
      total: 1,
      live: false,
      explain: false,
      replay: false,
      quiet: false,
      write: (t) => void writes.push(t),
    });
    const gh = new GitHubReporter(base, { maxLogLines: 3, write: (t) => void writes.push(t) });
    gh.taskFinished({ id: "t", status: "ran", durationMs: 5, reasons: [], logPath: log });
    const lines = writes.join("").trimEnd().split("\n");
    assert.equal(lines[1], `(7 earlier lines are in ${log})`);
    assert.deepEqual(lines.slice(3, 6), ["line 7", "line 8", "line 9"]);
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("GitHubReporter writes annotations, summary and outputs for a mixed build", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const failLog = `${tmp}/compress.log`;
    Deno.writeTextFileSync(failLog, "converting\nqemu-img: Could not open 'x': No such file\n");
    const replayLog = `${tmp}/restored.log`;
    Deno.writeTextFileSync(replayLog, "restored output\n");
    Deno.writeTextFileSync(`${tmp}/summary.md`, "## Earlier step\n\n");
    const { gh, writes } = reporters(tmp, { explain: true });
    const outcomes: TaskOutcome[] = [
      { id: "up-to-date", status: "fresh", durationMs: 0.2, reasons: [] },
      {
        id: "restored",
        status: "cached",
        durationMs: 2,
        reasons: ["input src/a.txt changed"],
        logPath: replayLog,
      },
      { id: "quiet", status: "ran", durationMs: 3, reasons: ["never built"] },
      {
        id: "image:demo:compress",
        status: "failed",
        durationMs: 2500,
        reasons: [],
        failure: { reason: "action-failed", message: "qemu-img convert exited with 1 | see log" },
        logPath: failLog,
      },
      { id: "after-failure", status: "skipped", durationMs: 0, reasons: [] },
    ];
    for (const o of outcomes) {
      if (o.status === "ran" || o.status === "cached") {
        gh.taskStarted(o.id, o.status === "ran" ? "run" : "restore");
      }
      gh.taskFinished(o);
    }
    gh.warn("Signing key expires in 3 days: renew it");
    gh.finish({ ran: 1, cached: 1, fresh: 1, failed: 1, skipped: 1 }, 2600);
    const text = writes.join("");
    const lines = text.trimEnd().split("\n");

    // Plain lines in order, the restored one not held back, the quiet task's without a group.
    assert.equal(lines[0], "[restored] cached in 2ms");
    assert.equal(lines[1], "[restored]   because input src/a.txt changed");
    assert.equal(lines[2], "[quiet] ran in 3ms");
    assert.equal(lines[3], "[quiet]   because never built");
    // The failure: the plain reporter's tail, then the annotation, then the full log folded.
    assert.equal(
      lines[4],
      "[image:demo:compress] failed: qemu-img convert exited with 1 | see log",
    );
    const annotation = lines.find((l) => l.startsWith("::error "));
    assert.equal(
      annotation,
      "::error title=Task image%3Ademo%3Acompress failed::qemu-img convert exited with 1 | see log" +
        `%0A%0ALast lines of ${failLog}:%0Aconverting%0Aqemu-img: Could not open 'x': No such file`,
    );
    assert.ok(
      lines.indexOf(annotation!) > lines.indexOf(`[image:demo:compress] full log: ${failLog}`),
    );
    assert.ok(lines.includes("::group::image:demo:compress (failed after 2.5s): full log"));
    assert.ok(lines.includes("[after-failure] skipped"));
    assert.ok(lines.includes("::warning::Signing key expires in 3 days: renew it"));
    assert.equal(lines.at(-1), "ran 1, cached 1, fresh 1, failed 1, skipped 1 in 2.6s");
    assert.equal(lines.filter((l) => l === "::endgroup::").length, 1, "one group: the failure");

    const summary = Deno.readTextFileSync(`${tmp}/summary.md`);
    assert.ok(summary.startsWith("## Earlier step\n\n"), "the summary is appended to");
    assert.equal(
      summary.slice("## Earlier step\n\n".length),
      [
        "### kiln build: ran 1, cached 1, fresh 1, failed 1, skipped 1 in 2.6s",
        "",
        "Run: https://github.com/acme/kiln/actions/runs/7",
        "",
        "- **`image:demo:compress` failed**: qemu-img convert exited with 1 \\| see log",
        "",
        "| task | status | duration | outputs |",
        "| --- | --- | ---: | --- |",
        "| `image:demo:compress` | failed | 2.5s | `dist/images/demo` |",
        "| `up-to-date` | fresh | 0ms | `out/fresh.txt` |",
        "| `restored` | cached | 2ms | `out/restored.txt` |",
        "| `quiet` | ran | 3ms | `out/quiet.txt` |",
        "| `after-failure` | skipped |  | `out/never.txt` |",
        "",
        "",
      ].join("\n"),
    );

    const outputs = parseOutputFile(Deno.readTextFileSync(`${tmp}/output.txt`));
    assert.deepEqual(Object.fromEntries(outputs), {
      ran: "1",
      cached: "1",
      fresh: "1",
      failed: "1",
      skipped: "1",
      "failed-tasks": "image:demo:compress",
      outputs: "out/fresh.txt\nout/quiet.txt\nout/restored.txt",
    });
    assert.match(
      Deno.readTextFileSync(`${tmp}/output.txt`),
      /^outputs<<ghadelimiter_[0-9a-f-]{36}$/m,
      "outputs always uses the heredoc form",
    );
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("GitHubReporter.taskFinished() groups a restored task's log with --replay", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const log = `${tmp}/restored.log`;
    Deno.writeTextFileSync(log, "what it printed when it ran\n");
    const { gh, writes } = reporters(tmp, { replay: true });
    gh.taskFinished({ id: "restored", status: "cached", durationMs: 4, reasons: [], logPath: log });
    const lines = writes.join("").trimEnd().split("\n");
    assert.equal(lines[0], "::group::restored (cached in 4ms)");
    assert.equal(lines[2], "what it printed when it ran");
    assert.equal(lines.at(-1), "::endgroup::");
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("ciReporter() returns the plain reporter outside GitHub Actions", () => {
  const options = { total: 1, live: false, explain: false, replay: false, quiet: false };
  for (const env of [{}, { CI: "true" }, { GITLAB_CI: "true", CI: "true" }]) {
    const r = ciReporter(options, undefined, (n) => (env as Record<string, string>)[n]);
    assert.ok(r instanceof CliReporter, JSON.stringify(env));
  }
});

Deno.test("ciReporter() in GitHub Actions writes the files the runner names", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const env: Record<string, string> = {
      CI: "true",
      GITHUB_ACTIONS: "true",
      GITHUB_STEP_SUMMARY: `${tmp}/step_summary`,
      GITHUB_OUTPUT: `${tmp}/github_output`,
      GITHUB_REPOSITORY: "acme/kiln",
      GITHUB_RUN_ID: "99",
    };
    Deno.writeTextFileSync(env.GITHUB_STEP_SUMMARY, "");
    Deno.writeTextFileSync(env.GITHUB_OUTPUT, "earlier=1\n");
    const writes: string[] = [];
    const graph = { tasks: new Map([["a", { outputs: ["out/a"] }]]) };
    const r = ciReporter(
      {
        total: 1,
        live: false,
        explain: false,
        replay: false,
        quiet: false,
        write: (t) => void writes.push(t),
      },
      graph,
      (n) => env[n],
    );
    assert.ok(r instanceof GitHubReporter);
    r.taskFinished!({ id: "a", status: "ran", durationMs: 10, reasons: [] });
    r.finish({ ran: 1, cached: 0, fresh: 0, failed: 0, skipped: 0 }, 12);
    assert.deepEqual(writes, ["[a] ran in 10ms\n", "ran 1, cached 0, fresh 0 in 12ms\n"]);
    assert.match(
      Deno.readTextFileSync(env.GITHUB_STEP_SUMMARY),
      /Run: https:\/\/github\.com\/acme\/kiln\/actions\/runs\/99\n[^]*\| `a` \| ran \| 10ms \| `out\/a` \|/,
    );
    const outputs = parseOutputFile(Deno.readTextFileSync(env.GITHUB_OUTPUT));
    assert.equal(outputs.get("earlier"), "1");
    assert.equal(outputs.get("ran"), "1");
    assert.equal(outputs.get("failed"), "0");
    assert.equal(outputs.get("failed-tasks"), "");
    assert.equal(outputs.get("outputs"), "out/a");
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("GitHubReporter.finish() warns, without throwing, when a file cannot be written", async () => {
  const tmp = await makeTmp("gh-reporter-");
  try {
    const writes: string[] = [];
    const write = (t: string) => void writes.push(t);
    const base = new CliReporter({
      total: 0,
      live: false,
      explain: false,
      replay: false,
      quiet: false,
      write,
    });
    const gh = new GitHubReporter(base, { summaryPath: `${tmp}/missing/dir/summary`, write });
    gh.finish({ ran: 0, cached: 0, fresh: 0, failed: 0, skipped: 0 }, 1);
    assert.match(writes.at(-1)!, /^::warning::Could not append to ".*\/missing\/dir\/summary"/);
  } finally {
    await removeTree(tmp);
  }
});
