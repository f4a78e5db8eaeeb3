import assert from "node:assert/strict";
import type { Failure } from "../../engine/failure.ts";
import { type GitRef, resolveRef } from "../../builders/github/repo.ts";
import {
  describeTreeState,
  keyPathMatcher,
  type TreeState,
  treeState,
} from "../../builders/github/tree_state.ts";
import { gitOrigin } from "../rig/git_origin.ts";
import { removeTree, writeFiles } from "../rig/workspace.ts";

const FILES = {
  ".gitignore": ".kiln/\nout/\n",
  "kiln.yaml": "tasks: {}\n",
  "src/a.txt": "a\n",
  "src/lib/b.txt": "b\n",
  "docs/notes.md": "notes\n",
};
const INPUTS = ["src/**/*.txt", "kiln.yaml"];

function ok<T>(r: T | Failure): T {
  if (r && typeof r === "object" && "reason" in r) assert.fail(`${r.reason}: ${r.message}`);
  return r as T;
}

async function stateOf(root: string, enters: Parameters<typeof treeState>[2]) {
  const ref = ok<GitRef>(await resolveRef(root));
  return { ref, state: ok<TreeState>(await treeState(root, ref, enters)) };
}

Deno.test("treeState() reports an uncommitted change to an input and not one to an unrelated file", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    writeFiles(g.work, { "src/lib/b.txt": "changed\n", "docs/notes.md": "more notes\n" });
    const { ref, state } = await stateOf(g.work, INPUTS);
    assert.equal(ref.pushed, true);
    assert.equal(state.sha, ref.head);
    assert.deepEqual(state.changes, [{ path: "src/lib/b.txt", kind: "uncommitted" }]);
    // Staged counts too, and so does a deleted input.
    await g.git(["add", "src/lib/b.txt"]);
    await Deno.remove(`${g.work}/src/a.txt`);
    const again = (await stateOf(g.work, INPUTS)).state;
    assert.deepEqual(again.changes, [
      { path: "src/a.txt", kind: "uncommitted" },
      { path: "src/lib/b.txt", kind: "uncommitted" },
    ]);
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("treeState() reports a new untracked input and never an ignored file", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    writeFiles(g.work, { "src/new/c.txt": "c\n", "out/x.txt": "x\n", "src/readme.md": "r\n" });
    const { state } = await stateOf(g.work, [...INPUTS, "out/**"]);
    assert.deepEqual(state.changes, [{ path: "src/new/c.txt", kind: "untracked" }]);
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("treeState() reports an unpushed commit touching an input, against the pushed commit", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    const pushed = await g.git(["rev-parse", "HEAD"]);
    await g.commit("local only", { "src/a.txt": "local\n", "docs/notes.md": "local\n" });
    const { ref, state } = await stateOf(g.work, INPUTS);
    assert.equal(ref.pushed, false);
    assert.equal(ref.sha, pushed, "the cloud builds the newest pushed commit");
    assert.notEqual(ref.head, pushed);
    assert.equal(ref.remoteBranch, "main");
    assert.deepEqual(state.changes, [{ path: "src/a.txt", kind: "unpushed" }]);
    assert.match(
      describeTreeState(state),
      new RegExp(
        `^The cloud build will use commit ${
          pushed.slice(0, 12)
        }: these local changes enter the keys and are not pushed: src/a\\.txt \\(unpushed\\); push them or build locally with --builder local$`,
      ),
    );
    // Once pushed, nothing is left to report.
    await g.git(["push", "-q", "origin", "HEAD"]);
    const after = await stateOf(g.work, INPUTS);
    assert.equal(after.ref.pushed, true);
    assert.equal(after.ref.sha, after.ref.head);
    assert.deepEqual(after.state.changes, []);
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("treeState() reports an unpushed commit that only touched an unrelated file as nothing", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    await g.commit("docs", { "docs/notes.md": "local\n" });
    const { ref, state } = await stateOf(g.work, INPUTS);
    assert.equal(ref.pushed, false);
    assert.deepEqual(state.changes, []);
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("treeState() gives paths relative to a workspace in a subfolder, absolute outside it", async () => {
  const g = await gitOrigin("tree-", {
    "examples/hello/kiln.yaml": "tasks: {}\n",
    "examples/hello/src/g.txt": "g\n",
    "lib/shared.ts": "export {};\n",
  });
  try {
    writeFiles(g.work, {
      "examples/hello/src/g.txt": "G\n",
      "lib/shared.ts": "export const x = 1;\n",
    });
    const ws = `${g.work}/examples/hello`;
    const seen: string[] = [];
    const { state } = await stateOf(ws, (p) => {
      seen.push(p);
      return p === "src/g.txt" || p === `${g.work}/lib/shared.ts`;
    });
    assert.deepEqual(seen.sort(), [`${g.work}/lib/shared.ts`, "src/g.txt"]);
    assert.deepEqual(state.changes, [
      { path: `${g.work}/lib/shared.ts`, kind: "uncommitted" },
      { path: "src/g.txt", kind: "uncommitted" },
    ]);
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("resolveRef() fails for a branch never pushed and for a detached HEAD", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    await g.git(["checkout", "-q", "-b", "feature"]);
    const r = await resolveRef(g.work);
    assert.ok("reason" in r);
    assert.equal(r.reason, "github-branch-not-pushed");
    assert.match(
      r.message,
      /^Branch "feature" is not on "origin": push it \(git push -u origin feature\)/,
    );
    await g.git(["push", "-q", "origin", "feature"]); // pushed without -u: origin/feature exists
    const pushed = ok<GitRef>(await resolveRef(g.work));
    assert.equal(pushed.remoteBranch, "feature");
    assert.equal(pushed.pushed, true);
    await g.git(["checkout", "-q", "--detach"]);
    const d = await resolveRef(g.work);
    assert.ok("reason" in d);
    assert.equal(d.reason, "github-detached-head");
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("resolveRef() uses the upstream's branch name on the remote", async () => {
  const g = await gitOrigin("tree-", FILES);
  try {
    await g.git(["checkout", "-q", "-b", "local-name"]);
    await g.git(["push", "-q", "-u", "origin", "local-name:remote-name"]);
    const r = ok<GitRef>(await resolveRef(g.work));
    assert.equal(r.branch, "local-name");
    assert.equal(r.remoteBranch, "remote-name");
    assert.equal(r.tracking, "origin/remote-name");
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("keyPathMatcher() matches globs as the engine expands them, and folders by prefix", () => {
  const m = keyPathMatcher(["src/**/*.ts", "./README.md", "packer/demo/", "iso/{a,b}.yaml"]);
  assert.equal(m("src/a.ts"), true);
  assert.equal(m("src/lib/deep/b.ts"), true);
  assert.equal(m("src/.hidden/b.ts"), false, "** skips dot folders, as expandGlob does");
  assert.equal(m("src/a.tsx"), false);
  assert.equal(m("README.md"), true);
  assert.equal(m("packer/demo/http/ks.cfg"), true);
  assert.equal(m("packer/demo2/x"), false);
  assert.equal(m("iso/b.yaml"), true);
  assert.equal(m("iso/c.yaml"), false);
});
