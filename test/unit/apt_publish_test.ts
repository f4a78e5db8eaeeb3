import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import {
  APT_ARCH_UNSUPPORTED,
  APT_CONFIG_INVALID,
  APT_DEB_INVALID,
  APT_PACKAGE_NOT_FOUND,
  APT_POOL_CONFLICT,
  APT_POOL_MISMATCH,
  type AptPublishRequest,
  type AptPublishResult,
  type AptRepoConfig,
  AptWorkerSigner,
  publishAptRepository,
} from "../../apt/mod.ts";
import type { Failure } from "../../engine/failure.ts";
import type { SigningKey } from "../../signing/key.ts";
import { buildDeb } from "../rig/dpkg_deb.ts";
import { testSigningKey } from "../rig/signing_key.ts";

const TMP = resolve("test/.tmp");
const EPOCH = 1_700_000_000; // Tue, 14 Nov 2023 22:13:20 UTC

let keyPromise: Promise<SigningKey> | undefined;
const key = () => (keyPromise ??= testSigningKey());

async function withDir(fn: (dir: string) => Promise<void>) {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-publish-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function config(dir: string, more: Partial<AptRepoConfig> = {}): AptRepoConfig {
  return {
    root: join(dir, "repo"),
    stateDir: join(dir, "state"),
    origin: "kiln",
    label: "kiln label",
    description: "kiln test repository",
    sourceDateEpoch: EPOCH,
    suites: [
      {
        name: "stable",
        codename: "kiln1",
        version: "1.0",
        components: ["main", "contrib"],
        architectures: ["amd64", "arm64"],
      },
      { name: "testing", components: ["main"], architectures: ["amd64"] },
    ],
    ...more,
  };
}

function ok(r: AptPublishResult | Failure): AptPublishResult {
  if ("reason" in r) throw new Error(`unexpected failure ${r.reason}: ${r.message}`);
  return r;
}

function hex(algo: string, bytes: Uint8Array): string {
  return createHash(algo).update(bytes).digest("hex");
}

/** The debs most tests publish. */
async function debs(dir: string) {
  const d = join(dir, "debs");
  Deno.mkdirSync(d, { recursive: true });
  const [hello, helloArm, data, tool, lib] = await Promise.all([
    buildDeb(d, { pkg: "hello", version: "1.0-1", arch: "amd64", depends: "hello-data" }),
    buildDeb(d, { pkg: "hello", version: "1.0-1", arch: "arm64", compression: "gzip" }),
    buildDeb(d, { pkg: "hello-data", version: "1.0-1", arch: "all", compression: "zstd" }),
    buildDeb(d, { pkg: "tool", version: "2:3.0", arch: "amd64" }),
    buildDeb(d, { pkg: "libfoo1", version: "0.9", arch: "amd64", source: "libfoo (0.9)" }),
  ]);
  return { dir: d, hello, helloArm, data, tool, lib };
}

function addAll(d: Awaited<ReturnType<typeof debs>>) {
  return [
    { deb: d.hello, suite: "stable", component: "main" },
    { deb: d.helloArm, suite: "stable", component: "main" },
    { deb: d.data, suite: "stable", component: "main" },
    { deb: d.lib, suite: "stable", component: "main" },
    { deb: d.tool, suite: "stable", component: "contrib" },
    { deb: d.data, suite: "testing", component: "main" },
  ];
}

/** Every file under `dir` (relative paths, sorted): what a refused publish must leave alone. */
function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...filesUnder(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

function read(root: string, rel: string): Uint8Array {
  return Deno.readFileSync(join(root, rel));
}

function mtime(root: string, rel: string): number {
  return Deno.statSync(join(root, rel)).mtime!.getTime();
}

Deno.test("publishAptRepository() lays out pool, indexes, Release files and by-hash copies", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir, { validUntilDays: 10 });
    const r = ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    assert.equal(r.hashed, 5);
    assert.equal(r.packages, 5);
    assert.deepEqual(r.releases, ["dists/stable/InRelease", "dists/testing/InRelease"]);
    const root = c.root;
    for (
      const p of [
        "pool/main/h/hello/hello_1.0-1_amd64.deb",
        "pool/main/h/hello/hello_1.0-1_arm64.deb",
        "pool/main/h/hello-data/hello-data_1.0-1_all.deb",
        "pool/main/libf/libfoo/libfoo1_0.9_amd64.deb",
        "pool/contrib/t/tool/tool_3.0_amd64.deb",
      ]
    ) assert.ok(Deno.statSync(join(root, p)).isFile, p);

    const text = (rel: string) => new TextDecoder().decode(read(root, rel));
    const amd = text("dists/stable/main/binary-amd64/Packages");
    const arm = text("dists/stable/main/binary-arm64/Packages");
    assert.deepEqual([...amd.matchAll(/^Package: (.*)$/gm)].map((m) => m[1]), [
      "hello",
      "hello-data",
      "libfoo1",
    ]);
    assert.deepEqual([...arm.matchAll(/^Package: (.*)$/gm)].map((m) => m[1]), [
      "hello",
      "hello-data",
    ]);
    const helloStanza = amd.split("\n\n")[0];
    const helloDeb = read(root, "pool/main/h/hello/hello_1.0-1_amd64.deb");
    assert.deepEqual(
      helloStanza.split("\n").map((l) => l.split(":")[0]).filter((k) => k[0] !== " "),
      [
        "Package",
        "Architecture",
        "Version",
        "Priority",
        "Section",
        "Maintainer",
        "Depends",
        "Filename",
        "Size",
        "MD5sum",
        "SHA256",
        "SHA512",
        "Homepage",
        "Description",
      ],
    );
    assert.match(helloStanza, /^Filename: pool\/main\/h\/hello\/hello_1\.0-1_amd64\.deb$/m);
    assert.match(helloStanza, new RegExp(`^Size: ${helloDeb.length}$`, "m"));
    assert.match(helloStanza, new RegExp(`^MD5sum: ${hex("md5", helloDeb)}$`, "m"));
    assert.match(helloStanza, new RegExp(`^SHA256: ${hex("sha256", helloDeb)}$`, "m"));
    assert.match(helloStanza, new RegExp(`^SHA512: ${hex("sha512", helloDeb)}$`, "m"));
    assert.match(text("dists/stable/contrib/binary-amd64/Packages"), /^Version: 2:3\.0$/m);
    assert.equal(text("dists/stable/contrib/binary-arm64/Packages"), "");

    const release = text("dists/stable/Release");
    const head = release.slice(0, release.indexOf("MD5Sum:"));
    assert.equal(
      head,
      "Origin: kiln\nLabel: kiln label\nSuite: stable\nVersion: 1.0\nCodename: kiln1\n" +
        "Date: Tue, 14 Nov 2023 22:13:20 UTC\nValid-Until: Fri, 24 Nov 2023 22:13:20 UTC\n" +
        "Acquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main contrib\n" +
        "Description: kiln test repository\n",
    );
    // Every index file is listed with its size and three hashes, and has by-hash copies.
    const listed = [...release.matchAll(/^ ([0-9a-f]{64}) +(\d+) (\S+)$/gm)];
    assert.equal(listed.length, 16); // 2 components × 2 architectures × 4 files
    for (const [, sha, size, path] of listed) {
      const bytes = read(root, `dists/stable/${path}`);
      assert.equal(bytes.length, Number(size), path);
      assert.equal(hex("sha256", bytes), sha, path);
      assert.match(release, new RegExp(`^ ${hex("md5", bytes)} +${size} ${path}$`, "m"));
      assert.match(release, new RegExp(`^ ${hex("sha512", bytes)} +${size} ${path}$`, "m"));
      if (!path.endsWith("/Release")) {
        const dir = `dists/stable/${path.slice(0, path.lastIndexOf("/"))}/by-hash`;
        assert.deepEqual(read(root, `${dir}/SHA256/${sha}`), bytes);
        assert.deepEqual(read(root, `${dir}/SHA512/${hex("sha512", bytes)}`), bytes);
        assert.deepEqual(read(root, `${dir}/MD5Sum/${hex("md5", bytes)}`), bytes);
      }
    }
    assert.equal(
      text("dists/stable/main/binary-arm64/Release"),
      "Archive: stable\nOrigin: kiln\nLabel: kiln label\nVersion: 1.0\nCodename: kiln1\n" +
        "Acquire-By-Hash: yes\nComponent: main\nArchitecture: arm64\n",
    );
    assert.match(
      text("dists/stable/InRelease"),
      /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n/,
    );
    assert.ok(text("dists/stable/InRelease").includes(release));
    assert.match(text("dists/stable/Release.gpg"), /^-----BEGIN PGP SIGNATURE-----/);
    assert.equal(Deno.readLinkSync(join(root, "dists/kiln1")), "stable");
    assert.match(text("dists/testing/Release"), /^Codename: testing$/m);
  });
});

Deno.test("publishAptRepository() is reproducible, and a one-package add equals a full build", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const extra = await buildDeb(d.dir, { pkg: "zzz", version: "1", arch: "amd64" });
    const a = config(join(dir, "a"));
    const b = config(join(dir, "b"));
    ok(await publishAptRepository(a, await key(), { add: addAll(d) }));
    const r = ok(
      await publishAptRepository(a, await key(), {
        add: [{ deb: extra, suite: "stable", component: "main" }],
      }),
    );
    assert.equal(r.hashed, 1);
    assert.equal(r.readBack, 0, "the indexes' records were used, not the indexes parsed");
    ok(
      await publishAptRepository(b, await key(), {
        add: [...addAll(d), { deb: extra, suite: "stable", component: "main" }],
      }),
    );
    for (
      const f of ["Packages", "Packages.gz", "Packages.xz", "Release"].map((n) =>
        `dists/stable/main/binary-amd64/${n}`
      ).concat("dists/stable/Release", "dists/testing/Release")
    ) assert.deepEqual(read(a.root, f), read(b.root, f), f);
  });
});

/** Every index file and Release of `c`'s suites, by path. */
function indexFiles(c: AptRepoConfig): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const s of c.suites) {
    out.set(`dists/${s.name}/Release`, read(c.root, `dists/${s.name}/Release`));
    for (const comp of s.components) {
      for (const arch of s.architectures) {
        for (const n of ["Packages", "Packages.gz", "Packages.xz", "Release"]) {
          const f = `dists/${s.name}/${comp}/binary-${arch}/${n}`;
          out.set(f, read(c.root, f));
        }
      }
    }
  }
  return out;
}

Deno.test("publishAptRepository() through its records equals a full build after adds, replacements and removals", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(join(dir, "inc"));
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const newer = await buildDeb(d.dir, { pkg: "hello", version: "1.1-1", arch: "amd64" });
    const zzz = await buildDeb(d.dir, { pkg: "zzz", version: "1", arch: "all" });
    const steps: AptPublishRequest[] = [
      { add: [{ deb: newer, suite: "stable", component: "main" }] },
      { add: [{ deb: zzz, suite: "stable", component: "contrib" }] },
      { remove: [{ suite: "stable", package: "tool" }] },
      { remove: [{ suite: "stable", package: "zzz", architecture: "all" }] },
      {
        add: [{ deb: zzz, suite: "testing", component: "main" }],
        remove: [{ suite: "testing", package: "hello-data" }],
      },
    ];
    // The reference: the same steps, each published the general way (no state: every index is
    // read back, every pool file hashed again).
    const g = config(join(dir, "general"));
    ok(await publishAptRepository(g, await key(), { add: addAll(d) }));
    for (const [i, step] of steps.entries()) {
      const r = ok(await publishAptRepository(c, await key(), step));
      assert.equal(r.readBack, 0, `step ${i}: published through the records`);
      Deno.removeSync(g.stateDir, { recursive: true });
      const want = ok(await publishAptRepository(g, await key(), step));
      assert.ok(want.readBack > 0);
      for (const [f, bytes] of indexFiles(g)) {
        assert.deepEqual(read(c.root, f), bytes, `step ${i}: ${f}`);
      }
      assert.equal(r.packages, want.packages, `step ${i}: packages`);
      assert.deepEqual(r.written, want.written, `step ${i}: written`);
      // replaced files were freed (engine/removals.ts), and no temporary file is left over
      assert.deepEqual([...Deno.readDirSync(join(c.stateDir, "trash"))], [], `step ${i}: trash`);
      const names = readdirSync(c.root, { recursive: true }) as string[];
      assert.deepEqual(names.filter((n) => n.includes(".tmp-")), [], `step ${i}: temporary files`);
    }
  });
});

Deno.test("publishAptRepository() reads an index back when its files changed since kiln wrote them", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    // Same bytes, another stat signature: the record no longer vouches for the file.
    const gz = join(c.root, "dists/stable/main/binary-amd64/Packages.gz");
    Deno.utimeSync(gz, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const extra = await buildDeb(d.dir, { pkg: "aaa", version: "1", arch: "amd64" });
    const r = ok(
      await publishAptRepository(c, await key(), {
        add: [{ deb: extra, suite: "stable", component: "main" }],
      }),
    );
    assert.ok(r.readBack > 0, "read back");
    const b = config(join(dir, "b"));
    ok(
      await publishAptRepository(b, await key(), {
        add: [...addAll(d), { deb: extra, suite: "stable", component: "main" }],
      }),
    );
    for (const [f, bytes] of indexFiles(b)) assert.deepEqual(read(c.root, f), bytes, f);
    // That publish left records again: the next one uses them.
    const next = await buildDeb(d.dir, { pkg: "bbb", version: "1", arch: "amd64" });
    const again = ok(
      await publishAptRepository(c, await key(), {
        add: [{ deb: next, suite: "stable", component: "main" }],
      }),
    );
    assert.equal(again.readBack, 0);
  });
});

Deno.test("publishAptRepository() rewrites only the indexes that change", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const files = [
      "dists/stable/main/binary-arm64/Packages.xz",
      "dists/stable/contrib/binary-amd64/Packages",
      "dists/testing/main/binary-amd64/Packages.gz",
      "dists/testing/InRelease",
    ];
    const before = files.map((f) => mtime(c.root, f));
    const stableBefore = mtime(c.root, "dists/stable/InRelease");
    await new Promise((r) => setTimeout(r, 20));
    const newer = await buildDeb(d.dir, { pkg: "hello", version: "1.1-1", arch: "amd64" });
    const r = ok(
      await publishAptRepository(c, await key(), {
        add: [{ deb: newer, suite: "stable", component: "main" }],
      }),
    );
    assert.equal(r.hashed, 1);
    assert.deepEqual(r.written, [
      "dists/stable/main/binary-amd64/Packages",
      "dists/stable/main/binary-amd64/Packages.gz",
      "dists/stable/main/binary-amd64/Packages.xz",
      "dists/stable/Release",
      "dists/stable/Release.gpg",
      "dists/stable/InRelease",
    ]);
    assert.deepEqual(files.map((f) => mtime(c.root, f)), before);
    // A later second than the InRelease it replaced, so If-Modified-Since clients see the change.
    assert.ok(
      Math.floor(mtime(c.root, "dists/stable/InRelease") / 1000) > Math.floor(stableBefore / 1000),
    );
    // The new version replaced the old one in its suite; the pool keeps both files.
    const amd = new TextDecoder().decode(read(c.root, "dists/stable/main/binary-amd64/Packages"));
    assert.match(amd, /^Version: 1\.1-1$/m);
    assert.doesNotMatch(amd, /^Filename: .*hello_1\.0-1_amd64\.deb$/m);
    assert.ok(Deno.statSync(join(c.root, "pool/main/h/hello/hello_1.0-1_amd64.deb")).isFile);

    // Publishing again with nothing to do writes nothing and re-signs nothing.
    const again = ok(await publishAptRepository(c, await key()));
    assert.deepEqual(again.written, []);
    assert.equal(again.hashed, 0);
  });
});

Deno.test("publishAptRepository() refuses with apt-pool-mismatch when a pool file changed, keeping the release", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const inRelease = read(c.root, "dists/stable/InRelease");
    const packages = read(c.root, "dists/stable/main/binary-amd64/Packages");
    const victim = "pool/main/libf/libfoo/libfoo1_0.9_amd64.deb";
    const bytes = read(c.root, victim);
    bytes[bytes.length - 10] ^= 1;
    Deno.writeFileSync(join(c.root, victim), bytes);
    const extra = await buildDeb(d.dir, { pkg: "other", version: "1", arch: "amd64" });
    const before = filesUnder(join(c.root, "dists"));
    const r = await publishAptRepository(c, await key(), {
      add: [{ deb: extra, suite: "stable", component: "main" }],
    });
    assert.ok("reason" in r);
    assert.equal(r.reason, APT_POOL_MISMATCH);
    // The index files it had started writing (see staged_writes.ts) are gone again.
    assert.deepEqual(filesUnder(join(c.root, "dists")), before);
    assert.match(
      r.message,
      new RegExp(
        `^Pool file "${victim}" listed in "dists/stable/main/binary-amd64/Packages" has SHA256 [0-9a-f]{64}, not [0-9a-f]{64}; `,
      ),
    );
    assert.deepEqual(read(c.root, "dists/stable/InRelease"), inRelease);
    assert.deepEqual(read(c.root, "dists/stable/main/binary-amd64/Packages"), packages);

    Deno.removeSync(join(c.root, victim));
    const gone = await publishAptRepository(c, await key());
    assert.ok("reason" in gone);
    assert.equal(gone.reason, APT_POOL_MISMATCH);
    assert.match(gone.message, /is missing/);
    assert.deepEqual(read(c.root, "dists/stable/InRelease"), inRelease);

    // Taking the package out of the suite is the way to publish again.
    ok(
      await publishAptRepository(c, await key(), {
        remove: [{ suite: "stable", package: "libfoo1" }],
      }),
    );
    const amd = new TextDecoder().decode(read(c.root, "dists/stable/main/binary-amd64/Packages"));
    assert.doesNotMatch(amd, /libfoo1/);
  });
});

Deno.test("publishAptRepository() rebuilds from its published indexes when the cache is lost", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const before = read(c.root, "dists/stable/main/binary-amd64/Packages.xz");
    Deno.removeSync(c.stateDir, { recursive: true });
    const r = ok(await publishAptRepository(c, await key()));
    assert.equal(r.hashed, 5);
    assert.equal(r.packages, 5);
    assert.deepEqual(read(c.root, "dists/stable/main/binary-amd64/Packages.xz"), before);
    assert.deepEqual(r.written, []);
  });
});

Deno.test("publishAptRepository() rejects bad additions and removals with their own reasons", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const inRelease = read(c.root, "dists/stable/InRelease");
    const k = await key();
    const other = join(dir, "other");
    Deno.mkdirSync(other);
    const sameVersion = await buildDeb(other, {
      pkg: "hello",
      version: "1.0-1",
      arch: "amd64",
      files: { "etc/hello": "different\n" },
    });
    const riscv = await buildDeb(other, { pkg: "rv", version: "1", arch: "riscv64" });
    const notDeb = join(other, "not.deb");
    Deno.writeTextFileSync(notDeb, "just text");
    const cases: [Parameters<typeof publishAptRepository>[2], string, RegExp][] = [
      [
        { add: [{ deb: sameVersion, suite: "stable", component: "main" }] },
        APT_POOL_CONFLICT,
        /already holds a different hello of that version; give the new build a new version$/,
      ],
      [
        { add: [{ deb: riscv, suite: "stable", component: "main" }] },
        APT_ARCH_UNSUPPORTED,
        /it is for riscv64 but suite "stable" publishes amd64, arm64; add "riscv64"/,
      ],
      [
        { add: [{ deb: notDeb, suite: "stable", component: "main" }] },
        APT_DEB_INVALID,
        /not\.deb" is not a valid \.deb: it is not an ar archive/,
      ],
      [
        { add: [{ deb: d.hello, suite: "unstable", component: "main" }] },
        APT_CONFIG_INVALID,
        /no suite "unstable"/,
      ],
      [
        { add: [{ deb: d.hello, suite: "testing", component: "contrib" }] },
        APT_CONFIG_INVALID,
        /suite "testing" has no component "contrib"/,
      ],
      [
        { remove: [{ suite: "testing", package: "tool" }] },
        APT_PACKAGE_NOT_FOUND,
        /Cannot remove "tool" from suite "testing"/,
      ],
    ];
    for (const [request, reason, message] of cases) {
      const r = await publishAptRepository(c, k, request);
      assert.ok("reason" in r, `accepted ${JSON.stringify(request)}`);
      assert.equal(r.reason, reason, r.message);
      assert.match(r.message, message);
      assert.doesNotMatch(r.message, /\n|\.$/);
    }
    assert.deepEqual(read(c.root, "dists/stable/InRelease"), inRelease);
  });
});

Deno.test("publishAptRepository() keeps a few superseded by-hash files and deletes older ones", async () => {
  await withDir(async (dir) => {
    const c = config(dir, {
      byHashKeep: 1,
      suites: [{ name: "s", components: ["main"], architectures: ["amd64"] }],
    });
    const d = join(dir, "debs");
    Deno.mkdirSync(d);
    const byHash = join(c.root, "dists/s/main/binary-amd64/by-hash/SHA256");
    for (let i = 1; i <= 4; i++) {
      const deb = await buildDeb(d, { pkg: "pp", version: `${i}`, arch: "amd64" });
      ok(
        await publishAptRepository(c, await key(), {
          add: [{ deb, suite: "s", component: "main" }],
        }),
      );
      const names = [...Deno.readDirSync(byHash)].map((e) => e.name);
      assert.equal(names.length, i === 1 ? 3 : 6, `after publish ${i}`); // current 3 + 1 generation
    }
    const release = new TextDecoder().decode(read(c.root, "dists/s/Release"));
    const listed = [...release.matchAll(/^ ([0-9a-f]{64}) +\d+ main\/binary-amd64\/Packages/gm)];
    for (const [, sha] of listed) assert.ok(Deno.statSync(join(byHash, sha)).isFile);
  });
});

Deno.test("publishAptRepository() asks for the key only when a Release must be signed", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    let asked = 0;
    const signer = async () => {
      asked++;
      return await key();
    };
    ok(await publishAptRepository(c, signer, { add: addAll(d) }));
    assert.equal(asked, 1);
    const locked = () => Promise.resolve({ reason: "signing-key-invalid", message: "Locked" });
    const noop = ok(await publishAptRepository(c, locked));
    assert.deepEqual(noop.written, []);
    const inRelease = read(c.root, "dists/stable/InRelease");
    const extra = await buildDeb(d.dir, { pkg: "extra", version: "1", arch: "amd64" });
    const r = await publishAptRepository(c, locked, {
      add: [{ deb: extra, suite: "stable", component: "main" }],
    });
    assert.ok("reason" in r);
    assert.equal(r.reason, "signing-key-invalid");
    assert.deepEqual(read(c.root, "dists/stable/InRelease"), inRelease);
    assert.doesNotMatch(
      new TextDecoder().decode(read(c.root, "dists/stable/main/binary-amd64/Packages")),
      /extra/,
    );
  });
});

Deno.test("publishAptRepository() reads again a pool file touched since it was hashed", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    ok(await publishAptRepository(c, await key(), { add: addAll(d) }));
    const xz = read(c.root, "dists/stable/main/binary-amd64/Packages.xz");
    // Same bytes, another stat signature: the index built from the cache is not trusted.
    const victim = join(c.root, "pool/main/libf/libfoo/libfoo1_0.9_amd64.deb");
    Deno.writeFileSync(victim, Deno.readFileSync(victim));
    const extra = await buildDeb(d.dir, { pkg: "aaa", version: "1", arch: "amd64" });
    const r = ok(
      await publishAptRepository(c, await key(), {
        add: [{ deb: extra, suite: "stable", component: "main" }],
      }),
    );
    assert.equal(r.hashed, 2);
    const b = config(join(dir, "b"));
    ok(
      await publishAptRepository(b, await key(), {
        add: [...addAll(d), { deb: extra, suite: "stable", component: "main" }],
      }),
    );
    const rel = "dists/stable/main/binary-amd64/Packages.xz";
    assert.notDeepEqual(read(c.root, rel), xz);
    assert.deepEqual(read(c.root, rel), read(b.root, rel));
  });
});

Deno.test("publishAptRepository() with an AptWorkerSigner refuses an unreadable key, signing nothing", async () => {
  await withDir(async (dir) => {
    const d = await debs(dir);
    const c = config(dir);
    const signer = new AptWorkerSigner({ armored: "not a key", name: "bad.asc" });
    try {
      const r = await publishAptRepository(c, signer, { add: addAll(d) });
      assert.ok("reason" in r);
      assert.equal(r.reason, "signing-key-invalid");
      assert.match(r.message, /^Signing key from bad\.asc is not an armored OpenPGP private key/);
      assert.throws(
        () => Deno.statSync(join(c.root, "dists/stable/InRelease")),
        Deno.errors.NotFound,
      );
    } finally {
      signer.close();
    }
  });
});
