/**
 * The `.deb` writer checked by Debian's own tools: `dpkg-deb --info/--contents/-x/-e` read what
 * kiln wrote, `md5sum -c` checks its md5sums, `lintian` finds no errors in it, and two builds of
 * one spec give identical bytes. Also the failures: a bad spec names its file, line and key, and a
 * missing source file leaves nothing behind.
 */

import assert from "node:assert/strict";
import { buildDeb, type BuiltDeb, debSpec, type DebSpecInput, loadDebSpec } from "../../deb/mod.ts";
import type { Failure } from "../../engine/failure.ts";
import { makeTmp, removeTree, sha256, writeFiles } from "../rig/workspace.ts";

const EPOCH = 1700000000;

/** The spec of the test package; `compression` and extra lines are filled in per test. */
const SPEC = `name: hello-kiln
version: 1.2.3-1
architecture: all
maintainer: Kiln Authors <kiln@kiln-build.org>
description: |
  Friendly greeting program for tests
  This package prints a greeting. It exists so that the tests of kiln can check
  that the packages kiln writes are accepted by dpkg and by lintian.

  It also has a second paragraph.
homepage: https://kiln-build.org
section: utils
depends: [dash]
files:
  - { src: bin/hello, dest: /usr/bin/ }
  - { src: conf, dest: /etc/hello-kiln/ }
  - { src: share, dest: /usr/share/hello-kiln, mode: "0644" }
links:
  - { path: /usr/share/hello-kiln/latest, target: greeting.txt }
conffiles: [/etc/hello-kiln/hello.conf]
scripts: { postinst: debian/postinst, prerm: debian/prerm }
copyright: { holder: The kiln authors, years: "2026", license: MIT }
`;

const SOURCES: Record<string, string> = {
  "bin/hello": "#!/bin/sh\necho hello\n",
  "conf/hello.conf": "greeting: hello\n",
  "conf/extra/more.conf": "more: yes\n",
  "share/greeting.txt": "Hello, world!\n",
  "share/deep/nested/data.bin": "x".repeat(3000),
  "debian/postinst": "#!/bin/sh\nset -e\necho configured\n",
  "debian/prerm": "#!/bin/sh\nset -e\necho removing\n",
};

/** A workspace with the sources and the spec (with `replace` applied to the spec text). */
async function workspace(replace: [string, string][] = []): Promise<string> {
  const dir = await makeTmp("deb-e2e-");
  writeFiles(dir, SOURCES);
  Deno.chmodSync(`${dir}/bin/hello`, 0o775);
  let spec = SPEC;
  for (const [from, to] of replace) {
    assert.ok(spec.includes(from), `test bug: ${from} not in SPEC`);
    spec = spec.replace(from, to);
  }
  Deno.writeTextFileSync(`${dir}/hello.deb.yaml`, spec);
  return dir;
}

/** Builds the workspace's spec into `dir/out`. */
async function build(dir: string, epoch = EPOCH): Promise<BuiltDeb> {
  const spec = await loadDebSpec(`${dir}/hello.deb.yaml`);
  if ("reason" in spec) throw new Error(spec.message);
  const deb = await buildDeb(spec, { outDir: `${dir}/out`, sourceDateEpoch: epoch });
  if ("reason" in deb) throw new Error(deb.message);
  return deb;
}

/** Runs a real tool and returns its stdout; the test fails on a non-zero exit. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { TZ: "UTC", LC_ALL: "C.UTF-8" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `${cmd} ${args.join(" ")}:\n${text}${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
}

/** lintian's tags for `deb` (errors fail the test in `run`: lintian exits 1 on an error tag). */
async function lintian(deb: string): Promise<string[]> {
  const out = await run("lintian", ["--no-cfg", "--allow-root", deb]);
  const tags = out.split("\n").filter((l) => /^[EWIPXON]: /.test(l));
  assert.deepEqual(tags.filter((l) => l.startsWith("E: ")), [], out);
  return tags;
}

/** dpkg-gencontrol's Installed-Size of an unpacked tree: files by KiB rounded up, folders 1. */
function installedKiB(dir: string): number {
  const stat = Deno.lstatSync(dir);
  if (!stat.isDirectory) return Math.ceil(stat.size / 1024);
  let kib = 1;
  for (const e of Deno.readDirSync(dir)) kib += installedKiB(`${dir}/${e.name}`);
  return kib;
}

/** The files left in `dir` (names only). */
function listing(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

Deno.test("buildDeb() writes an xz package that dpkg-deb reads and lintian passes", async () => {
  const dir = await workspace();
  try {
    const deb = await build(dir);
    assert.equal(deb.path, `${dir}/out/hello-kiln_1.2.3-1_all.deb`);
    assert.equal(deb.sha256, sha256(Deno.readFileSync(deb.path)));
    assert.equal(deb.size, Deno.statSync(deb.path).size);
    assert.equal(await run("ar", ["t", deb.path]), "debian-binary\ncontrol.tar.xz\ndata.tar.xz\n");

    const info = await run("dpkg-deb", ["--info", deb.path]);
    for (
      const line of [
        " Package: hello-kiln",
        " Version: 1.2.3-1",
        " Architecture: all",
        " Maintainer: Kiln Authors <kiln@kiln-build.org>",
        " Depends: dash",
        " Section: utils",
        " Priority: optional",
        " Homepage: https://kiln-build.org",
        " Description: Friendly greeting program for tests",
        "  .",
        "  It also has a second paragraph.",
      ]
    ) assert.ok(info.split("\n").includes(line), `${line} in\n${info}`);

    const contents = (await run("dpkg-deb", ["--contents", deb.path])).trimEnd().split("\n");
    for (const l of contents) {
      assert.match(l, /^[-dl]r[-w]x?[-r].*root\/root .*2023-11-14 22:13 \.\//);
    }
    const mode = (path: string) => contents.find((l) => l.endsWith(` ./${path}`))?.split(" ")[0];
    assert.equal(mode("usr/bin/hello"), "-rwxr-xr-x", "0775 on disk is packed as 0755");
    assert.equal(mode("etc/hello-kiln/extra/more.conf"), "-rw-r--r--");
    assert.equal(mode("usr/share/hello-kiln/deep/nested/"), "drwxr-xr-x");
    assert.equal(mode("usr/share/doc/hello-kiln/changelog.Debian.gz"), "-rw-r--r--");
    assert.ok(contents.some((l) => l.endsWith("./usr/share/hello-kiln/latest -> greeting.txt")));
    assert.match(contents[0], / \.\/$/, "the root folder comes first");

    const root = `${dir}/unpacked`;
    await run("dpkg-deb", ["-x", deb.path, root]);
    assert.equal(Deno.readTextFileSync(`${root}/usr/bin/hello`), SOURCES["bin/hello"]);
    assert.equal(Deno.readTextFileSync(`${root}/etc/hello-kiln/extra/more.conf`), "more: yes\n");
    assert.equal(
      Deno.readTextFileSync(`${root}/usr/share/hello-kiln/deep/nested/data.bin`),
      SOURCES["share/deep/nested/data.bin"],
    );
    assert.equal(Deno.readLinkSync(`${root}/usr/share/hello-kiln/latest`), "greeting.txt");
    assert.equal(
      await run("dpkg-deb", ["--field", deb.path, "Installed-Size"]),
      `${installedKiB(root)}\n`,
      "Installed-Size counts what dpkg-deb -x unpacked as dpkg-gencontrol does",
    );
    assert.match(
      await run("zcat", [`${root}/usr/share/doc/hello-kiln/changelog.Debian.gz`]),
      /^hello-kiln \(1\.2\.3-1\) unstable; urgency=medium\n/,
    );

    const control = `${dir}/control`;
    await run("dpkg-deb", ["-e", deb.path, control]);
    assert.equal(
      Deno.readTextFileSync(`${control}/conffiles`),
      "/etc/hello-kiln/extra/more.conf\n/etc/hello-kiln/hello.conf\n",
      "files under /etc are conffiles, listed or not",
    );
    assert.equal(Deno.readTextFileSync(`${control}/postinst`), SOURCES["debian/postinst"]);
    assert.equal(Deno.statSync(`${control}/postinst`).mode! & 0o777, 0o755);
    assert.equal(Deno.statSync(`${control}/prerm`).mode! & 0o777, 0o755);
    const checked = await run("md5sum", ["-c", `${control}/md5sums`], root);
    assert.match(checked, /^usr\/bin\/hello: OK$/m);
    assert.doesNotMatch(checked, /etc\//, "conffiles are not in md5sums");
    const ctrl = await run("sh", ["-c", `dpkg-deb --ctrl-tarfile "$0" | tar -tvf -`, deb.path]);
    assert.match(ctrl, /^-rwxr-xr-x root\/root .* \.\/postinst$/m);
    assert.match(ctrl, /^-rw-r--r-- root\/root .* \.\/conffiles$/m);

    const tags = await lintian(deb.path);
    console.log(`lintian (xz): ${tags.join("; ") || "no tags"}`);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildDeb() writes a gz package from a spec built in code", async () => {
  const dir = await workspace();
  try {
    const input: DebSpecInput = {
      name: "hello-gz",
      version: "2.0",
      architecture: "amd64",
      maintainer: "Kiln Authors <kiln@kiln-build.org>",
      description: "Greeting program packaged with gzip\nA native package built from code.",
      files: [{ src: "bin/hello", dest: "/usr/bin/hello-gz", mode: 0o755 }],
      copyright: { holder: "The kiln authors", license: "GPL-3+" },
      compression: "gz",
    };
    const spec = debSpec(input, { root: dir });
    if ("reason" in spec) throw new Error(spec.message);
    const deb = await buildDeb(spec, { output: `${dir}/hello.deb`, sourceDateEpoch: EPOCH });
    if ("reason" in deb) throw new Error(deb.message);
    assert.equal(await run("ar", ["t", deb.path]), "debian-binary\ncontrol.tar.gz\ndata.tar.gz\n");
    assert.equal(
      await run("dpkg-deb", ["--field", deb.path, "Package", "Version"]),
      "Package: hello-gz\nVersion: 2.0\n",
    );
    await run("dpkg-deb", ["-x", deb.path, `${dir}/x`]);
    assert.equal(Deno.readTextFileSync(`${dir}/x/usr/bin/hello-gz`), SOURCES["bin/hello"]);
    assert.ok(
      Deno.statSync(`${dir}/x/usr/share/doc/hello-gz/changelog.gz`).isFile,
      "native changelog",
    );
    assert.match(
      Deno.readTextFileSync(`${dir}/x/usr/share/doc/hello-gz/copyright`),
      /\/usr\/share\/common-licenses\/GPL-3/,
    );
    const tags = await lintian(deb.path);
    console.log(`lintian (gz): ${tags.join("; ") || "no tags"}`);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildDeb() gives identical bytes twice, and different ones for another epoch", async () => {
  const a = await workspace();
  const b = await workspace();
  try {
    // Different mtimes and group-write bits in the second tree: neither may reach the package.
    await Deno.utime(`${b}/share/greeting.txt`, 1, 1);
    Deno.chmodSync(`${b}/conf/hello.conf`, 0o664);
    const one = await build(a);
    const two = await build(b);
    assert.equal(one.sha256, two.sha256);
    assert.deepEqual(Deno.readFileSync(one.path), Deno.readFileSync(two.path));

    const spec = await loadDebSpec(`${a}/hello.deb.yaml`);
    if ("reason" in spec) throw new Error(spec.message);
    const fromEnv = await buildDeb(spec, {
      output: `${a}/env.deb`,
      env: { SOURCE_DATE_EPOCH: String(EPOCH) },
    });
    assert.ok(!("reason" in fromEnv));
    assert.equal(fromEnv.sha256, one.sha256, "SOURCE_DATE_EPOCH from the environment");

    const later = await buildDeb(spec, { output: `${a}/later.deb`, sourceDateEpoch: EPOCH + 60 });
    assert.ok(!("reason" in later));
    assert.notEqual(later.sha256, one.sha256);
    assert.match(
      await run("dpkg-deb", ["--contents", later.path]),
      /2023-11-14 22:14 \.\/usr\/bin\/hello/,
    );
  } finally {
    await removeTree(a);
    await removeTree(b);
  }
});

Deno.test("buildDeb() fails with deb-source-missing, naming the spec line, and writes nothing", async () => {
  const dir = await workspace([["src: conf,", "src: missing/conf,"]]);
  try {
    const spec = await loadDebSpec(`${dir}/hello.deb.yaml`);
    if ("reason" in spec) throw new Error(spec.message);
    const r = await buildDeb(spec, { outDir: `${dir}/out`, sourceDateEpoch: EPOCH }) as Failure;
    assert.equal(r.reason, "deb-source-missing");
    assert.equal(
      r.message,
      `Package spec ${JSON.stringify(`${dir}/hello.deb.yaml`)} line 16: key "files[1].src" names ` +
        `"missing/conf", which does not exist in ${JSON.stringify(dir)}; build it first or fix ` +
        "the path and rerun",
    );
    assert.deepEqual(listing(`${dir}/out`), []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildDeb() rejects bad conffiles, clashing paths and scripts without #!", async () => {
  const cases: [string, [string, string][], string, RegExp][] = [
    [
      "conffile not installed",
      [["[/etc/hello-kiln/hello.conf]", "[/etc/hello-kiln/nope.conf]"]],
      "deb-spec-invalid",
      /line 20: key "conffiles\[0\]" names "\/etc\/hello-kiln\/nope.conf", which is not a file/,
    ],
    [
      "two sources at one path",
      [["dest: /usr/share/hello-kiln, mode", "dest: /usr/bin/hello, mode"]],
      "deb-file-conflict",
      /line 17: "\/usr\/bin\/hello" is also put in the package by key "files\[0\]"/,
    ],
    [
      "script without #!",
      [["prerm: debian/prerm", "prerm: conf/hello.conf"]],
      "deb-script-invalid",
      /line 21: key "scripts.prerm" names "conf\/hello.conf", which does not start with #!/,
    ],
  ];
  for (const [what, replace, reason, message] of cases) {
    const dir = await workspace(replace);
    try {
      const spec = await loadDebSpec(`${dir}/hello.deb.yaml`);
      if ("reason" in spec) throw new Error(spec.message);
      const r = await buildDeb(spec, { outDir: `${dir}/out`, sourceDateEpoch: EPOCH }) as Failure;
      assert.equal(r.reason, reason, what);
      assert.match(r.message, message, what);
      assert.deepEqual(listing(`${dir}/out`), [], what);
    } finally {
      await removeTree(dir);
    }
  }
});

Deno.test("buildDeb() fails with deb-epoch-invalid for a SOURCE_DATE_EPOCH that is no time", async () => {
  const dir = await workspace();
  try {
    const spec = await loadDebSpec(`${dir}/hello.deb.yaml`);
    if ("reason" in spec) throw new Error(spec.message);
    for (const value of ["yesterday", "-5", "99999999999"]) {
      const r = await buildDeb(spec, {
        outDir: `${dir}/out`,
        env: { SOURCE_DATE_EPOCH: value },
      }) as Failure;
      assert.equal(r.reason, "deb-epoch-invalid", value);
      assert.match(
        r.message,
        new RegExp(`^SOURCE_DATE_EPOCH must be whole seconds .* got "${value}"`),
      );
    }
    assert.deepEqual(listing(`${dir}/out`), []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("loadDebSpec() names the file, line and key of a bad spec file", async () => {
  const dir = await workspace([["architecture: all", "architecture: x86_64"]]);
  try {
    const r = await loadDebSpec(`${dir}/hello.deb.yaml`) as Failure;
    assert.equal(r.reason, "deb-spec-invalid");
    assert.equal(
      r.message,
      `Package spec ${
        JSON.stringify(`${dir}/hello.deb.yaml`)
      } line 3: key "architecture" must be ` +
        "one of all, amd64, arm64, armel, armhf, i386, loong64, mips64el, ppc64el, riscv64, " +
        's390x, got "x86_64"; write one of them and rerun',
    );
  } finally {
    await removeTree(dir);
  }
});
