import assert from "node:assert/strict";
import type { ReleaseArchive } from "../../homebrew/archives.ts";
import { buildFormula } from "../../homebrew/formula.ts";
import type { PublishResult } from "../../homebrew/git_publish.ts";
import { type FormulaSpec, formulaSpec, type RepoSpec } from "../../homebrew/spec.ts";
import { publishFormula } from "../../homebrew/tap.ts";
import type { Failure } from "../../engine/failure.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const AUTHOR = { name: "Release Bot", email: "release@example.org" };

function spec(extra: Record<string, unknown> = {}): FormulaSpec {
  const s = formulaSpec({
    name: "kiln",
    desc: "Content-hashed build graph",
    homepage: "https://github.com/example/kiln",
    license: "MIT",
    url:
      "https://github.com/example/kiln/releases/download/v{version}/kiln-{version}-{os}-{arch}.{ext}",
    ...extra,
  });
  if ("reason" in s) throw new Error(s.message);
  return s;
}

/** A test's folder: an environment without global git config, and git to inspect repositories. */
async function rig(prefix: string) {
  const dir = await makeTmp(prefix);
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
  };
  const git = async (args: string[], cwd = dir): Promise<string> => {
    const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true }).output();
    const dec = new TextDecoder();
    if (!out.success) throw new Error(`git ${args.join(" ")}: ${dec.decode(out.stderr)}`);
    return dec.decode(out.stdout).trim();
  };
  const bare = async (name = "remote.git") => {
    await git(["init", "-q", "--bare", "-b", "main", name]);
    return `${dir}/${name}`;
  };
  /** Subjects of the branch's commits, newest first. */
  const log = async (repo: string, branch = "main") =>
    (await git(["log", "--format=%s", branch], repo)).split("\n").filter((l) => l !== "");
  const archives = async (version: string): Promise<ReleaseArchive[]> => {
    await Deno.mkdir(`${dir}/dist`, { recursive: true });
    const list: ReleaseArchive[] = [
      { os: "macos", arch: "arm64", path: `${dir}/dist/kiln-${version}-darwin-arm64.tar.gz` },
      { os: "linux", arch: "x86_64", path: `${dir}/dist/kiln-${version}-linux-amd64.tar.gz` },
    ];
    for (const a of list) await Deno.writeTextFile(a.path, `${a.os} ${a.arch} ${version}\n`);
    return list;
  };
  return { dir, env, git, bare, log, archives };
}

function ok(r: PublishResult | Failure): PublishResult {
  if ("reason" in r) assert.fail(`${r.reason}: ${r.message}`);
  return r;
}

function failed(r: PublishResult | Failure): Failure {
  assert.ok("reason" in r, `expected a failure, got ${JSON.stringify(r)}`);
  assert.doesNotMatch(r.message, /\n/);
  return r;
}

Deno.test("publishFormula() commits and pushes a new formula, skips an unchanged one, commits a new version", async () => {
  const t = await rig("tap-");
  try {
    const remote = await t.bare();
    const tap: RepoSpec = { path: `${t.dir}/tap`, remote, branch: "main", author: AUTHOR };
    const s = spec({ tap });
    const v1 = await t.archives("1.2.3");
    const first = ok(await publishFormula(s, "1.2.3", v1, { env: t.env }));
    assert.equal(first.committed, true);
    assert.equal(first.pushed, true);
    assert.equal(first.message, "kiln 1.2.3 (new formula)");
    assert.equal(first.file, "Formula/kiln.rb");
    assert.deepEqual(await t.log(remote), ["kiln 1.2.3 (new formula)"]);
    assert.equal(
      await t.git(["show", "main:Formula/kiln.rb"], remote),
      (await buildFormula(s, "1.2.3", v1) as string).trimEnd(),
    );
    assert.equal(
      await t.git(["log", "-1", "--format=%an <%ae> | %cn <%ce>", "main"], remote),
      "Release Bot <release@example.org> | Release Bot <release@example.org>",
    );
    assert.equal(await t.git(["rev-parse", "main"], remote), first.head);

    const again = ok(await publishFormula(s, "1.2.3", v1, { env: t.env }));
    assert.equal(again.committed, false);
    assert.equal(again.pushed, false);
    assert.deepEqual(await t.log(remote), ["kiln 1.2.3 (new formula)"]);

    const v2 = await t.archives("1.2.4");
    const bump = ok(await publishFormula(s, "1.2.4", v2, { env: t.env }));
    assert.equal(bump.message, "kiln 1.2.4");
    assert.deepEqual(await t.log(remote), ["kiln 1.2.4", "kiln 1.2.3 (new formula)"]);
    assert.match(await t.git(["show", "main:Formula/kiln.rb"], remote), /version "1\.2\.4"/);

    // A fresh clone elsewhere starts from the remote: the same release changes nothing.
    const other = ok(
      await publishFormula(s, "1.2.4", v2, { env: t.env, tap: { ...tap, path: `${t.dir}/tap2` } }),
    );
    assert.equal(other.committed, false);
    assert.equal(other.pushed, false);
    assert.equal(other.head, bump.head);
    assert.deepEqual(await t.log(`${t.dir}/tap2`), ["kiln 1.2.4", "kiln 1.2.3 (new formula)"]);
  } finally {
    await removeTree(t.dir);
  }
});

Deno.test("publishFormula() commits into a tap without a remote as the default identity", async () => {
  const t = await rig("tap-");
  try {
    const s = spec({ tap: { path: `${t.dir}/tap` } });
    const r = ok(await publishFormula(s, "0.1.0", await t.archives("0.1.0"), { env: t.env }));
    assert.deepEqual([r.committed, r.pushed], [true, false]);
    assert.deepEqual(await t.log(`${t.dir}/tap`), ["kiln 0.1.0 (new formula)"]);
    assert.equal(
      await t.git(["log", "-1", "--format=%an <%ae>"], `${t.dir}/tap`),
      "kiln <kiln@localhost>",
    );
    assert.equal(await t.git(["status", "--porcelain"], `${t.dir}/tap`), "");
  } finally {
    await removeTree(t.dir);
  }
});

Deno.test("publishFormula() reports a rejected push and pushes the commit on the next run", async () => {
  const t = await rig("tap-");
  try {
    const remote = await t.bare();
    const hook = `${remote}/hooks/pre-receive`;
    await Deno.writeTextFile(hook, "#!/bin/sh\necho 'tap is frozen' >&2\nexit 1\n");
    await Deno.chmod(hook, 0o755);
    const s = spec({ tap: { path: `${t.dir}/tap`, remote } });
    const v1 = await t.archives("1.0.0");
    const f = failed(await publishFormula(s, "1.0.0", v1, { env: t.env }));
    assert.equal(f.reason, "tap-push-failed");
    assert.match(f.message, /pre-receive hook declined.*the next run pushes it$/);
    assert.deepEqual(await t.log(`${t.dir}/tap`), ["kiln 1.0.0 (new formula)"]);
    assert.equal(await t.git(["branch", "--list"], remote), "");

    await Deno.remove(hook);
    const r = ok(await publishFormula(s, "1.0.0", v1, { env: t.env }));
    assert.deepEqual([r.committed, r.pushed], [false, true]);
    assert.deepEqual(await t.log(remote), ["kiln 1.0.0 (new formula)"]);
  } finally {
    await removeTree(t.dir);
  }
});

Deno.test("publishFormula() refuses a folder that is not a clone, a wrong branch, an unreadable remote", async () => {
  const t = await rig("tap-");
  try {
    const v1 = await t.archives("1.0.0");
    // test/.tmp is inside kiln's own repository: a folder there is not a clone of its own.
    await Deno.mkdir(`${t.dir}/plain`);
    await Deno.writeTextFile(`${t.dir}/plain/notes.txt`, "x\n");
    const notRepo = failed(
      await publishFormula(spec({ tap: { path: `${t.dir}/plain` } }), "1.0.0", v1, { env: t.env }),
    );
    assert.equal(notRepo.reason, "tap-not-a-repo");
    assert.match(notRepo.message, /is not the top of a git repository; point it at a clone/);
    assert.deepEqual([...Deno.readDirSync(`${t.dir}/plain`)].map((e) => e.name), ["notes.txt"]);

    await t.git(["init", "-q", "-b", "dev", "devtap"]);
    const branch = failed(
      await publishFormula(spec({ tap: { path: `${t.dir}/devtap` } }), "1.0.0", v1, { env: t.env }),
    );
    assert.equal(branch.reason, "tap-wrong-branch");
    assert.match(branch.message, /is on branch "dev", not "main"/);

    const gone = failed(
      await publishFormula(
        spec({ tap: { path: `${t.dir}/tap`, remote: `${t.dir}/missing.git` } }),
        "1.0.0",
        v1,
        { env: t.env },
      ),
    );
    assert.equal(gone.reason, "tap-fetch-failed");
    assert.match(gone.message, /missing\.git/);

    const noTap = failed(await publishFormula(spec(), "1.0.0", v1, { env: t.env }));
    assert.equal(noTap.reason, "tap-not-configured");
  } finally {
    await removeTree(t.dir);
  }
});

Deno.test("publishFormula() stops when the clone and the remote have diverged", async () => {
  const t = await rig("tap-");
  try {
    const remote = await t.bare();
    const a: RepoSpec = { path: `${t.dir}/a`, remote, branch: "main" };
    const s = spec({ tap: a });
    ok(await publishFormula(s, "1.0.0", await t.archives("1.0.0"), { env: t.env }));
    // Clone a gets a local commit; clone b publishes a new version meanwhile.
    await Deno.writeTextFile(`${a.path}/README.md`, "tap\n");
    await t.git(["add", "README.md"], a.path);
    await t.git(["-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qm", "readme"], a.path);
    const b = ok(
      await publishFormula(s, "1.1.0", await t.archives("1.1.0"), {
        env: t.env,
        tap: { ...a, path: `${t.dir}/b` },
      }),
    );
    assert.equal(b.message, "kiln 1.1.0");
    const f = failed(await publishFormula(s, "1.1.0", await t.archives("1.1.0"), { env: t.env }));
    assert.equal(f.reason, "tap-diverged");
    assert.match(f.message, /cannot fast-forward.*rebase it on the remote or remove the folder$/);
    assert.deepEqual(await t.log(remote), ["kiln 1.1.0", "kiln 1.0.0 (new formula)"]);
  } finally {
    await removeTree(t.dir);
  }
});

Deno.test("publishFormula() publishes nothing when the formula is not valid Ruby", async () => {
  const t = await rig("tap-");
  try {
    const remote = await t.bare();
    const s = spec({ tap: { path: `${t.dir}/tap`, remote }, test: 'system(bin/"kiln"' });
    const f = failed(await publishFormula(s, "1.0.0", await t.archives("1.0.0"), { env: t.env }));
    assert.equal(f.reason, "formula-syntax-invalid");
    assert.equal(await t.git(["branch", "--list"], remote), "");
    assert.equal(await Deno.stat(`${t.dir}/tap`).then(() => true, () => false), false);
  } finally {
    await removeTree(t.dir);
  }
});
