import assert from "node:assert/strict";
import {
  DEFAULT_WORKFLOW,
  parseRemoteUrl,
  parseRepoSlug,
  resolveRepository,
  resolveWorkflow,
} from "../../builders/github/repo.ts";
import { gitOrigin } from "../rig/git_origin.ts";
import { removeTree } from "../rig/workspace.ts";

const env = (vars: Record<string, string>) => (n: string) => vars[n];

Deno.test("parseRemoteUrl() reads owner/name from https, ssh and scp-like remotes", () => {
  const acme = { owner: "acme", name: "kiln" };
  for (
    const url of [
      "https://github.com/acme/kiln.git",
      "https://github.com/acme/kiln",
      "https://github.com/acme/kiln/",
      "https://x-access-token:abc@github.com/acme/kiln.git",
      "git@github.com:acme/kiln.git",
      "git@github.com:acme/kiln",
      "ssh://git@github.com/acme/kiln.git",
      "ssh://git@github.com:22/acme/kiln.git",
      "https://ghe.example.com/acme/kiln.git",
    ]
  ) assert.deepEqual(parseRemoteUrl(url), acme, url);
  assert.deepEqual(parseRemoteUrl("git@github.com:acme/kiln.js.git"), {
    owner: "acme",
    name: "kiln.js",
  });
  for (const url of ["/srv/git/kiln.git", "file:///srv/git/kiln.git", "../kiln", "C:/x/y"]) {
    assert.equal(parseRemoteUrl(url), null, url);
  }
});

Deno.test("parseRepoSlug() accepts owner/name only", () => {
  assert.deepEqual(parseRepoSlug("acme/kiln"), { owner: "acme", name: "kiln" });
  assert.equal(parseRepoSlug("acme"), null);
  assert.equal(parseRepoSlug("acme/kiln/extra"), null);
  assert.equal(parseRepoSlug("-acme/kiln"), null);
  assert.equal(parseRepoSlug("acme/.."), null);
});

Deno.test("resolveRepository() prefers KILN_GITHUB_REPOSITORY, then GITHUB_REPOSITORY, then origin", async () => {
  const g = await gitOrigin("repo-", { "a.txt": "a\n" });
  try {
    assert.deepEqual(
      await resolveRepository(
        g.work,
        env({ KILN_GITHUB_REPOSITORY: "a/b", GITHUB_REPOSITORY: "c/d" }),
      ),
      { owner: "a", name: "b" },
    );
    assert.deepEqual(await resolveRepository(g.work, env({ GITHUB_REPOSITORY: "c/d" })), {
      owner: "c",
      name: "d",
    });
    const bad = await resolveRepository(g.work, env({ KILN_GITHUB_REPOSITORY: "nope" }));
    assert.ok("reason" in bad);
    assert.equal(
      bad.message,
      'KILN_GITHUB_REPOSITORY is "nope", not owner/name: set it like "acme/kiln"',
    );
    // The test's origin is a local path: not a GitHub repository.
    const local = await resolveRepository(g.work, env({}));
    assert.ok("reason" in local);
    assert.equal(local.reason, "github-repo-unknown");
    assert.match(
      local.message,
      /^Remote "origin" \(".*origin\.git"\) is not a GitHub repository URL: set KILN_GITHUB_REPOSITORY=owner\/name$/,
    );
    await g.git(["remote", "set-url", "origin", "git@github.com:acme/kiln.git"]);
    assert.deepEqual(await resolveRepository(g.work, env({})), { owner: "acme", name: "kiln" });
    await g.git(["remote", "remove", "origin"]);
    const none = await resolveRepository(g.work, env({}));
    assert.ok("reason" in none);
    assert.match(
      none.message,
      /"git remote get-url origin" failed .*: set KILN_GITHUB_REPOSITORY=owner\/name$/,
    );
  } finally {
    await removeTree(g.dir);
  }
});

Deno.test("resolveWorkflow() defaults to build-templates.yml and checks KILN_GITHUB_WORKFLOW", () => {
  assert.equal(resolveWorkflow(env({})), DEFAULT_WORKFLOW);
  assert.equal(resolveWorkflow(env({ KILN_GITHUB_WORKFLOW: "other.yaml" })), "other.yaml");
  assert.equal(
    resolveWorkflow(env({ KILN_GITHUB_WORKFLOW: ".github/workflows/x.yml" })),
    "x.yml",
  );
  assert.equal(resolveWorkflow(env({ KILN_GITHUB_WORKFLOW: "161335" })), "161335");
  const bad = resolveWorkflow(env({ KILN_GITHUB_WORKFLOW: "build" }));
  assert.ok(typeof bad === "object" && bad.reason === "github-workflow-invalid");
});
