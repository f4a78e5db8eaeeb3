/**
 * The real apt client against repositories kiln publishes: `apt-get update`, `install
 * --simulate` and `download` in an isolated apt configuration (its own state, cache, sources and
 * keyring; the host's apt setup is never read), over `file:` and over HTTP from nginx on
 * loopback; `gpgv` on `InRelease` and `Release.gpg`; and apt refusing a tampered `Packages` and a
 * tampered `.deb`. Package fixtures are built with `dpkg-deb --build`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { join, resolve } from "node:path";
import { AptWorkerSigner, publishAptRepository } from "../../apt/mod.ts";
import type { AptRepoConfig, AptSigner } from "../../apt/mod.ts";
import type { SigningKey } from "../../signing/key.ts";
import { buildDeb } from "../rig/dpkg_deb.ts";
import { startNginx } from "../rig/nginx.ts";
import { aptClient, run } from "../rig/apt_client.ts";
import { testSigningKey, writeKeyring } from "../rig/signing_key.ts";

const TMP = resolve("test/.tmp");

async function mustRun(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed:\n${r.out}`);
  return r.out;
}

/** A published two-suite repository: stable (main, contrib; amd64, arm64) and testing. */
async function makeRepo(dir: string, key: SigningKey, signer: AptSigner = key) {
  const debs = join(dir, "debs");
  Deno.mkdirSync(debs, { recursive: true });
  const [hello, helloArm, data, tool, hello11] = await Promise.all([
    buildDeb(debs, { pkg: "hello", version: "1.0-1", arch: "amd64", depends: "hello-data" }),
    buildDeb(debs, {
      pkg: "hello",
      version: "1.0-1",
      arch: "arm64",
      depends: "hello-data",
      compression: "zstd",
    }),
    buildDeb(debs, { pkg: "hello-data", version: "1.0-1", arch: "all", compression: "gzip" }),
    buildDeb(debs, { pkg: "tool", version: "2.0", arch: "amd64" }),
    buildDeb(debs, { pkg: "hello", version: "1.1-1", arch: "amd64", depends: "hello-data" }),
  ]);
  const config: AptRepoConfig = {
    root: join(dir, "repo"),
    stateDir: join(dir, "state"),
    origin: "kiln-tests",
    description: "kiln apt client tests",
    sourceDateEpoch: Math.floor(Date.now() / 1000),
    validUntilDays: 7,
    suites: [
      {
        name: "stable",
        codename: "kiln-stable",
        components: ["main", "contrib"],
        architectures: ["amd64", "arm64"],
      },
      { name: "testing", codename: "kiln-testing", components: ["main"], architectures: ["amd64"] },
    ],
  };
  const r = await publishAptRepository(config, signer, {
    add: [
      { deb: hello, suite: "stable", component: "main" },
      { deb: helloArm, suite: "stable", component: "main" },
      { deb: data, suite: "stable", component: "main" },
      { deb: tool, suite: "stable", component: "contrib" },
      { deb: hello11, suite: "testing", component: "main" },
      { deb: data, suite: "testing", component: "main" },
    ],
  });
  if ("reason" in r) throw new Error(r.message);
  return { config, debs, repo: config.root };
}

/** An apt configuration of its own under `dir`, trusting only `keyring`, reading `sources`. */
async function withDir(name: string, fn: (dir: string) => Promise<void>) {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: `apt-client-${name}-` });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function sha256(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/** The checks a published repository must pass with apt, whatever the transport. */
async function installAndDownload(apt: ReturnType<typeof aptClient>, repo: string) {
  const update = await apt.run("apt-get", ["update"]);
  assert.equal(update.code, 0, update.out);
  assert.doesNotMatch(update.out, /^(W|E):/m, update.out);

  const sim = await apt.run("apt-get", ["install", "--simulate", "hello"]);
  assert.equal(sim.code, 0, sim.out);
  assert.match(
    sim.out,
    /^Inst hello-data \(1\.0-1 kiln-tests:stable, kiln-tests:testing \[all\]\)/m,
  );
  assert.match(sim.out, /^Inst hello \(1\.1-1 kiln-tests:testing \[amd64\]\)/m); // newest wins

  const pinned = await apt.run("apt-get", ["install", "--simulate", "hello/stable", "tool"]);
  assert.equal(pinned.code, 0, pinned.out);
  assert.match(pinned.out, /^Inst hello \(1\.0-1 kiln-tests:stable \[amd64\]\)/m);
  assert.match(pinned.out, /^Inst tool \(2\.0 kiln-tests:stable \[amd64\]\)/m);

  const dl = await apt.run("apt-get", ["download", "hello:arm64", "hello-data"]);
  assert.equal(dl.code, 0, dl.out);
  assert.equal(
    sha256(join(apt.dl, "hello_1.0-1_arm64.deb")),
    sha256(join(repo, "pool/main/h/hello/hello_1.0-1_arm64.deb")),
  );
  assert.equal(
    sha256(join(apt.dl, "hello-data_1.0-1_all.deb")),
    sha256(join(repo, "pool/main/h/hello-data/hello-data_1.0-1_all.deb")),
  );
}

Deno.test("publishAptRepository() output installs and downloads with apt-get over file:", async () => {
  await withDir("file", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo } = await makeRepo(dir, key);
    const apt = aptClient(dir, keyring, [
      `deb file:${repo} stable main contrib`,
      `deb file:${repo} kiln-testing main`, // by codename, through the dists/ link
    ]);
    await installAndDownload(apt, repo);
  });
});

Deno.test("publishAptRepository() output installs with apt-get over HTTP, by hash", async () => {
  await withDir("http", async (dir) => {
    const key = await testSigningKey({ rsa: true });
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo } = await makeRepo(dir, key);
    await using web = await startNginx({ root: repo });
    const apt = aptClient(dir, keyring, [
      `deb ${web.url()} stable main contrib`,
      `deb ${web.url()} testing main`,
    ]);
    await installAndDownload(apt, repo);
    const log = web.accessLog();
    assert.ok(log.some((l) => /^GET \/dists\/stable\/InRelease 200/.test(l)), log.join("\n"));
    assert.ok(
      log.some((l) => /^GET \/dists\/stable\/main\/binary-amd64\/by-hash\/SHA\d+\/\w+ 200/.test(l)),
      `apt fetched no index by hash:\n${log.join("\n")}`,
    );
  });
});

Deno.test("publishAptRepository() adds a package that apt-get sees after its next update", async () => {
  await withDir("incremental", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo, config, debs } = await makeRepo(dir, key);
    await using web = await startNginx({ root: repo });
    const apt = aptClient(dir, keyring, [`deb ${web.url()} stable main`]);
    assert.equal((await apt.run("apt-get", ["update"])).code, 0);
    const newer = await buildDeb(debs, { pkg: "hello", version: "1.2-1", arch: "amd64" });
    const r = await publishAptRepository(config, key, {
      add: [{ deb: newer, suite: "stable", component: "main" }],
    });
    assert.ok(!("reason" in r), "reason" in r ? r.message : "");
    assert.equal(r.hashed, 1);
    const update = await apt.run("apt-get", ["update"]);
    assert.equal(update.code, 0, update.out);
    const sim = await apt.run("apt-get", ["install", "--simulate", "hello"]);
    assert.match(sim.out, /^Inst hello \(1\.2-1 kiln-tests:stable \[amd64\]\)/m, sim.out);
  });
});

Deno.test("publishAptRepository() signatures verify with gpgv, and a changed Release does not", async () => {
  await withDir("gpgv", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo } = await makeRepo(dir, key);
    const dists = join(repo, "dists/stable");
    await mustRun("gpgv", ["--keyring", keyring, join(dists, "InRelease")]);
    await mustRun("gpgv", [
      "--keyring",
      keyring,
      join(dists, "Release.gpg"),
      join(dists, "Release"),
    ]);
    const forged = join(dir, "Release.forged");
    Deno.writeTextFileSync(
      forged,
      Deno.readTextFileSync(join(dists, "Release")).replace("Suite: stable", "Suite: stab1e"),
    );
    const bad = await run("gpgv", ["--keyring", keyring, join(dists, "Release.gpg"), forged]);
    assert.notEqual(bad.code, 0, bad.out);
    assert.match(bad.out, /BAD signature/);
  });
});

Deno.test("AptWorkerSigner signs in a worker what gpgv verifies", async () => {
  await withDir("worker", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const signer = new AptWorkerSigner({ armored: key.armored, name: "test key" });
    try {
      const { repo } = await makeRepo(dir, key, signer);
      const dists = join(repo, "dists/stable");
      const out = await mustRun("gpgv", ["--keyring", keyring, join(dists, "InRelease")]);
      assert.match(out, /Good signature/);
      await mustRun("gpgv", [
        "--keyring",
        keyring,
        join(dists, "Release.gpg"),
        join(dists, "Release"),
      ]);
      assert.doesNotMatch(Deno.readTextFileSync(join(dists, "InRelease")), /\r/);
    } finally {
      signer.close();
    }
  });
});

/** Rewrites every form of `dir`'s Packages (by-hash copies included) with `edit` applied. */
async function tamperPackages(dir: string, edit: (text: string) => string) {
  const text = edit(Deno.readTextFileSync(join(dir, "Packages")));
  const xz = new Deno.Command("xz", { args: ["-c"], stdin: "piped", stdout: "piped" }).spawn();
  const w = xz.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const xzBytes = (await xz.output()).stdout;
  const forms = (head: Uint8Array) =>
    head[0] === 0x1f && head[1] === 0x8b
      ? gzipSync(text)
      : head[0] === 0xfd && head[1] === 0x37
      ? xzBytes
      : new TextEncoder().encode(text);
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else if (e.name !== "Release") Deno.writeFileSync(p, forms(Deno.readFileSync(p)));
    }
  };
  walk(dir);
}

Deno.test("apt-get update rejects a Packages file changed after publishAptRepository() signed it", async () => {
  await withDir("tamper-index", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo } = await makeRepo(dir, key);
    await tamperPackages(
      join(repo, "dists/stable/main/binary-amd64"),
      (t) => t.replace("Version: 1.0-1", "Version: 9.0-1"),
    );
    await using web = await startNginx({ root: repo });
    const apt = aptClient(dir, keyring, [`deb ${web.url()} stable main`]);
    const update = await apt.run("apt-get", ["update"]);
    assert.notEqual(update.code, 0, update.out);
    assert.match(update.out, /Hash Sum mismatch|File has unexpected size/);
    const sim = await apt.run("apt-get", ["install", "--simulate", "hello"]);
    assert.doesNotMatch(sim.out, /9\.0-1/);
  });
});

Deno.test("apt-get download rejects a .deb changed after publishAptRepository() listed it", async () => {
  await withDir("tamper-deb", async (dir) => {
    const key = await testSigningKey();
    const keyring = join(dir, "keyring.gpg");
    await writeKeyring(key, keyring);
    const { repo } = await makeRepo(dir, key);
    const apt = aptClient(dir, keyring, [`deb file:${repo} stable main`]);
    assert.equal((await apt.run("apt-get", ["update"])).code, 0);
    const deb = join(repo, "pool/main/h/hello/hello_1.0-1_amd64.deb");
    const bytes = Deno.readFileSync(deb);
    bytes[bytes.length - 20] ^= 0xff; // same size, different content
    Deno.writeFileSync(deb, bytes);
    const dl = await apt.run("apt-get", ["download", "hello"]);
    assert.notEqual(dl.code, 0, dl.out);
    assert.match(dl.out, /Hash Sum mismatch/);
    assert.deepEqual([...Deno.readDirSync(apt.dl)].filter((e) => e.name.endsWith(".deb")), []);
  });
});

Deno.test("startNginx() stores PUT uploads under its upload path", async () => {
  await withDir("nginx-put", async (dir) => {
    Deno.mkdirSync(join(dir, "www"));
    Deno.mkdirSync(join(dir, "uploads"));
    await using web = await startNginx({
      root: join(dir, "www"),
      upload: { path: "/cache/", uploadRoot: join(dir, "uploads") },
    });
    const put = await fetch(web.url("cache/ab/cd/entry"), { method: "PUT", body: "payload" });
    await put.body?.cancel();
    assert.equal(put.status, 201);
    assert.equal(Deno.readTextFileSync(join(dir, "uploads/cache/ab/cd/entry")), "payload");
    const get = await fetch(web.url("cache/ab/cd/entry"));
    assert.equal(await get.text(), "payload");
    const outside = await fetch(web.url("elsewhere"), { method: "PUT", body: "x" });
    await outside.body?.cancel();
    assert.equal(outside.status, 405);
  });
});
