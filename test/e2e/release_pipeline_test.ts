/**
 * kiln's own release pipeline (`deno task package`) end to end, in a copy of the repository's
 * release sources: every output checked by the tool that consumes it (dpkg-deb, lintian,
 * apt-get, sha256sum, sha512sum, gpgv, git, ruby), a no-op rerun, the minimal reruns after an edit, a key rotation,
 * and a bad package spec.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { LocalProcessRunner } from "../../builders/local.ts";
import { type BuildSummary, runBuild } from "../../engine/build.ts";
import { buildGraph } from "../../engine/graph.ts";
import { LocalStore } from "../../engine/store.ts";
import { generateRepositoryKey } from "../../signing/generate.ts";
import { RELEASE_SOURCES } from "../../tasks/release_archives.ts";
import { PACKAGE_TARGETS, releaseTasks } from "../../tasks/release_packages.ts";
import { aptClient } from "../rig/apt_client.ts";
import { copyPaths, makeTmp, removeTree, REPO } from "../rig/workspace.ts";

const VERSION = "0.1.0";

interface Rig {
  readonly ws: string;
  readonly env: Record<string, string>;
  build(): Promise<BuildSummary>;
  statuses(s: BuildSummary): Record<string, string>;
}

async function withRelease(body: (rig: Rig) => Promise<void>): Promise<void> {
  const dir = await makeTmp("release-");
  const ws = `${dir}/ws`;
  await copyPaths(REPO, ws, [...RELEASE_SOURCES, "packaging"]);
  const env: Record<string, string> = { SOURCE_DATE_EPOCH: "1763683200", HOME: `${dir}` };
  const store = new LocalStore(`${dir}/cache`);
  const rig: Rig = {
    ws,
    env,
    async build() {
      const get = (n: string) => env[n];
      const graph = buildGraph({
        root: ws,
        pools: {},
        tasks: (await releaseTasks(VERSION, ws, get)).tasks,
      });
      return await runBuild(graph, {
        targets: PACKAGE_TARGETS,
        jobs: 2,
        keepGoing: false,
        store,
        runner: new LocalProcessRunner(),
        env: get,
      });
    },
    statuses: (s) => Object.fromEntries(s.outcomes.map((o) => [o.id, o.status])),
  };
  try {
    await body(rig);
  } finally {
    await removeTree(dir);
  }
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${text}`);
  return text;
}

function ran(statuses: Record<string, string>): string[] {
  return Object.entries(statuses).filter(([, s]) => s === "ran").map(([id]) => id).sort();
}

const ARCHIVES = [
  "darwin-amd64",
  "darwin-arm64",
  "linux-amd64",
  "linux-arm64",
  "windows-amd64",
  "windows-arm64",
].map((p) => `release:archive:${p}`);

Deno.test("release pipeline: every output passes its consumer's check, and a rerun does nothing", async () => {
  await withRelease(async (rig) => {
    const first = await rig.build();
    const failed = first.outcomes.filter((o) => o.status !== "ran");
    assert.deepEqual(failed.map((o) => `${o.id}: ${o.failure?.message ?? o.status}`), []);
    const rel = `${rig.ws}/dist/release`;

    const info = await run("dpkg-deb", ["--info", `${rel}/kiln_${VERSION}-1_all.deb`]);
    assert.match(info, /Package: kiln\n/);
    assert.match(info, /Version: 0\.1\.0-1\n/);
    const contents = await run("dpkg-deb", ["--contents", `${rel}/kiln_${VERSION}-1_all.deb`]);
    assert.match(contents, /\.\/usr\/lib\/kiln\/engine\/build\.ts\n/);
    assert.match(contents, /\.\/usr\/bin\/kiln -> \.\.\/lib\/kiln\/bin\/kiln\n/);

    assert.match(
      await run("sha256sum", ["--strict", "-c", "SHA256SUMS"], rel),
      /kiln_0\.1\.0-1_all\.deb: OK/,
    );
    await run("sha512sum", ["--strict", "-c", "SHA512SUMS"], rel);
    await run("gpg", [
      "--batch",
      "--yes",
      "--dearmor",
      "-o",
      `${rel}/../ring.gpg`,
      `${rel}/kiln-release-key.asc`,
    ]);
    for (const sums of ["SHA256SUMS", "SHA512SUMS"]) {
      await run("gpgv", [
        "--keyring",
        `${rel}/../ring.gpg`,
        `${rel}/${sums}.asc`,
        `${rel}/${sums}`,
      ]);
    }
    const manifest = JSON.parse(Deno.readTextFileSync(`${rel}/manifest.json`));
    assert.equal(manifest.version, VERSION);
    assert.equal(manifest.release_date, "2025-11-21T00:00:00Z");
    assert.equal(manifest.artifacts.length, 8);

    await run("ruby", ["-c", `${rig.ws}/dist/homebrew/kiln.rb`]);
    const log = await run("git", ["-C", `${rig.ws}/dist/homebrew-tap`, "log", "--format=%s"]);
    assert.equal(log, "kiln 0.1.0 (new formula)\n");
    const scoop = JSON.parse(Deno.readTextFileSync(`${rig.ws}/dist/scoop/kiln.json`));
    const zip = Deno.readFileSync(`${rel}/kiln-${VERSION}-windows-amd64.zip`);
    assert.equal(scoop.architecture["64bit"].hash, createHash("sha256").update(zip).digest("hex"));

    // kiln's own repository, through the real apt client; kiln's own .deb, through lintian.
    const apt = aptClient(`${rig.ws}/..`, `${rig.ws}/dist/apt/kiln-archive-keyring.gpg`, [
      `deb file:${rig.ws}/dist/apt stable main`,
    ]);
    const update = await apt.run("apt-get", ["update"]);
    assert.equal(update.code, 0, update.out);
    const install = await apt.run("apt-get", ["install", "--simulate", "kiln"]);
    assert.match(install.out, /Inst kiln \(0\.1\.0-1 kiln:stable \[all\]\)/);
    const lintian = await apt.run("lintian", [`${rel}/kiln_${VERSION}-1_all.deb`]);
    assert.deepEqual(lintian.out.split("\n").filter((l) => l.startsWith("E:")), []);

    const again = await rig.build();
    assert.deepEqual(ran(rig.statuses(again)), []);
    assert.equal(again.counts.fresh, again.outcomes.length);
  });
});

Deno.test("release pipeline: an edit reruns only what it reaches, and a new key re-signs only", async () => {
  await withRelease(async (rig) => {
    await rig.build();
    const spec = `${rig.ws}/packaging/kiln.deb.yaml`;
    const edit = (from: string, to: string) =>
      Deno.writeTextFileSync(spec, Deno.readTextFileSync(spec).replace(from, to));
    edit("section: devel", "section: utils");
    edit('"{version}-1"', '"{version}-2"');
    assert.deepEqual(ran(rig.statuses(await rig.build())), [
      "release:apt",
      "release:deb",
      "release:files",
    ]);
    const packages = Deno.readTextFileSync(
      `${rig.ws}/dist/apt/dists/stable/main/binary-amd64/Packages`,
    );
    assert.match(packages, /Version: 0\.1\.0-2\n/);

    // New bytes under a published version: refused, as apt clients would see a hash mismatch.
    Deno.writeTextFileSync(`${rig.ws}/engine/hash.ts`, "// edited\n", { append: true });
    const refused = await rig.build();
    assert.deepEqual(
      ran(rig.statuses(refused)),
      [
        ...ARCHIVES,
        "release:deb",
        "release:files",
        "release:formula",
        "release:scoop",
        "release:tap",
      ].sort(),
    );
    const apt = refused.outcomes.find((o) => o.id === "release:apt")!;
    assert.equal(apt.failure?.reason, "apt-pool-conflict");
    assert.match(apt.failure!.message, /bump the Debian revision in packaging\/kiln\.deb\.yaml/);

    edit('"{version}-2"', '"{version}-3"');
    assert.deepEqual(ran(rig.statuses(await rig.build())), [
      "release:apt",
      "release:deb",
      "release:files",
    ]);
    const log = await run("git", ["-C", `${rig.ws}/dist/homebrew-tap`, "log", "--format=%s"]);
    assert.equal(log.split("\n").filter(Boolean).length, 2, "a changed formula is a new commit");

    const key = await generateRepositoryKey({ name: "rotated", algorithm: "ed25519" });
    rig.env.KILN_SIGNING_KEY = key.privateArmored;
    assert.deepEqual(ran(rig.statuses(await rig.build())), [
      "release:apt",
      "release:files",
      "release:key",
    ]);
    const pub = Deno.readTextFileSync(`${rig.ws}/dist/release/kiln-release-key.asc`);
    assert.equal(pub, key.publicArmored);
  });
});

Deno.test("release pipeline: a bad package spec fails release:deb in one line and publishes nothing new", async () => {
  await withRelease(async (rig) => {
    const spec = `${rig.ws}/packaging/kiln.deb.yaml`;
    Deno.writeTextFileSync(
      spec,
      Deno.readTextFileSync(spec).replace('"{version}-1"', '"not a version"'),
    );
    const s = await rig.build();
    const deb = s.outcomes.find((o) => o.id === "release:deb")!;
    assert.equal(deb.status, "failed");
    assert.equal(deb.failure?.reason, "deb-spec-invalid");
    assert.match(
      deb.failure!.message,
      /^Package spec "packaging\/kiln\.deb\.yaml" line \d+: key "version"/,
    );
    assert.ok(!deb.failure!.message.includes("\n"));
    assert.equal(rig.statuses(s)["release:files"], "skipped");
    const left = [...Deno.readDirSync(`${rig.ws}/dist/release`)].map((e) => e.name);
    assert.ok(!left.some((n) => n.endsWith(".deb") || n.includes(".tmp")), left.join(", "));
  });
});
