import assert from "node:assert/strict";
import { debSpec, type DebSpecInput, loadDebSpec, parseDebSpec } from "../../deb/spec.ts";
import { isDebianVersion, isRelation } from "../../deb/spec_schema.ts";
import type { Failure } from "../../engine/failure.ts";

/** A valid spec; tests change one line of it and expect that line and key in the error. */
const VALID = `name: hello-kiln
version: 1.2.3-1
architecture: amd64
maintainer: Kiln Authors <kiln@kiln-build.org>
description: |
  Friendly greeting program for tests
  Prints a greeting.
depends: [dash, "libc6 (>= 2.36) | musl"]
files:
  - { src: bin/hello, dest: /usr/bin/, mode: 0755 }
  - { src: conf, dest: /etc/hello-kiln/ }
conffiles: [/etc/hello-kiln/hello.conf]
scripts: { postinst: debian/postinst }
copyright: { holder: The kiln authors, license: MIT }
`;

/** VALID with the first `from` replaced by `to` (which must exist). */
function edit(from: string, to: string): string {
  assert.ok(VALID.includes(from), `test bug: ${JSON.stringify(from)} not in VALID`);
  return VALID.replace(from, to);
}

/** The failure message for spec text that must be invalid. */
function errorOf(text: string): string {
  const r = parseDebSpec(text, "pkg/hello.deb.yaml");
  assert.ok("reason" in r, "expected a failure");
  assert.equal(r.reason, "deb-spec-invalid");
  assert.ok(!r.message.includes("\n"), "one line");
  return r.message;
}

Deno.test("parseDebSpec() reads a valid spec and fills in the defaults", () => {
  const spec = parseDebSpec(VALID, "pkg/hello.deb.yaml");
  assert.ok(!("reason" in spec), JSON.stringify(spec));
  assert.equal(spec.name, "hello-kiln");
  assert.equal(spec.section, "misc");
  assert.equal(spec.priority, "optional");
  assert.equal(spec.compression, "xz");
  assert.deepEqual(spec.depends, ["dash", "libc6 (>= 2.36) | musl"]);
  assert.deepEqual(spec.recommends, []);
  assert.equal(spec.files[0].mode, 0o755, "mode: 0755 is octal, as written");
  assert.equal(spec.files[1].mode, undefined);
  assert.equal(spec.root, `${Deno.cwd()}/pkg`, "relative paths start at the spec's folder");
  assert.equal(spec.where(["files", 1, "src"]), 'Package spec "pkg/hello.deb.yaml" line 11');
});

Deno.test("parseDebSpec() takes the root from opts.root when given", () => {
  const spec = parseDebSpec(VALID, "pkg/hello.deb.yaml", { root: "/srv/build" });
  assert.ok(!("reason" in spec));
  assert.equal(spec.root, "/srv/build");
});

Deno.test("parseDebSpec() reads quoted and 0o modes as octal", () => {
  for (const [written, mode] of [['"0644"', 0o644], ['"750"', 0o750], ["0o700", 0o700]] as const) {
    const spec = parseDebSpec(edit("mode: 0755", `mode: ${written}`), "x.yaml");
    assert.ok(!("reason" in spec), written);
    assert.equal(spec.files[0].mode, mode, written);
  }
});

Deno.test("parseDebSpec() names the file, line and key of a bad version", () => {
  assert.equal(
    errorOf(edit("version: 1.2.3-1", "version: v1.2")),
    'Package spec "pkg/hello.deb.yaml" line 2: key "version" must be a Debian version such as ' +
      '"1.2.3-1", got "v1.2"; fix it and rerun',
  );
});

Deno.test("parseDebSpec() suggests the right name for a misspelt key", () => {
  assert.equal(
    errorOf(edit("depends:", "dependz:")),
    'Package spec "pkg/hello.deb.yaml" line 8: key "dependz" is not known; rename it to depends ' +
      "and rerun",
  );
});

Deno.test("parseDebSpec() reports each bad value at its own line and key", () => {
  const cases: [string, string, RegExp][] = [
    ["name: hello-kiln", "name: Hello_Kiln", /line 1: key "name" must be a Debian package name/],
    [
      "architecture: amd64",
      "architecture: x86_64",
      /line 3: key "architecture" must be one of all, amd64/,
    ],
    [
      "maintainer: Kiln Authors <kiln@kiln-build.org>",
      "maintainer: kiln@kiln-build.org",
      /line 4: key "maintainer" must be "Full Name <email@example.org>"/,
    ],
    [
      "Friendly greeting program for tests",
      "hello-kiln prints a greeting",
      /line 5: key "description" must not start with the package name/,
    ],
    [
      "  Prints a greeting.\n",
      "",
      /line 5: key "description" must have an extended description after the synopsis line/,
    ],
    [
      '"libc6 (>= 2.36) | musl"',
      '"libc6 (=> 2.36)"',
      /line 8: key "depends\[1\]" must be a package relation/,
    ],
    ["mode: 0755", 'mode: "0999"', /line 10: key "files\[0\].mode" must be an octal mode/],
    [
      "dest: /usr/bin/,",
      "dest: usr/bin/,",
      /line 10: key "files\[0\].dest" must be an absolute path/,
    ],
    ["src: conf,", "scr: conf,", /line 11: key "files\[1\].scr" is not known; rename it to src/],
    [
      "[/etc/hello-kiln/hello.conf]",
      "[/usr/share/hello.conf]",
      /line 12: key "conffiles\[0\]" must be a file under \/etc/,
    ],
    [
      "postinst: debian/postinst",
      "postint: x",
      /line 13: key "scripts.postint" is not known; rename it to postinst/,
    ],
    [
      "license: MIT }",
      "license: MIT, file: COPYING }",
      /line 14: key "copyright.holder" cannot go with file:/,
    ],
    [
      "holder: The kiln authors, ",
      "",
      /line 14: key "copyright.holder" is needed unless file: names/,
    ],
  ];
  for (const [from, to, expected] of cases) {
    assert.match(errorOf(edit(from, to)), expected, `${from} -> ${to}`);
  }
});

Deno.test("parseDebSpec() points at the line of a YAML syntax error", () => {
  assert.match(
    errorOf(VALID.replace("files:\n", "files:\n\t- bad\n")),
    /^Package spec "pkg\/hello.deb.yaml" line 10: invalid YAML: .*; indent with spaces, not tabs and rerun$/,
  );
});

Deno.test("parseDebSpec() fails on a spec that is not a map", () => {
  assert.match(errorOf("- just\n- a list\n"), /line 1: expected a map of keys/);
});

Deno.test("debSpec() validates a spec built in code and resolves its root", () => {
  const input: DebSpecInput = {
    name: "kiln",
    version: "0.1.0",
    architecture: "all",
    maintainer: "Kiln Authors <kiln@kiln-build.org>",
    description: "Content-hashed build graph\nRuns tasks.",
    files: [{ src: "dist/kiln", dest: "/usr/bin/kiln", mode: 0o755 }],
    copyright: { holder: "The kiln authors", license: "MIT" },
  };
  const spec = debSpec(input, { root: "/srv/kiln" });
  assert.ok(!("reason" in spec));
  assert.equal(spec.files[0].mode, 0o755);
  assert.equal(spec.root, "/srv/kiln");
  const bad = debSpec({ ...input, version: "one" }, { root: "/srv" }) as Failure;
  assert.equal(bad.reason, "deb-spec-invalid");
  assert.equal(
    bad.message,
    'Package spec (given in code): key "version" must be a Debian version such as "1.2.3-1", ' +
      'got "one"; fix it and rerun',
  );
  const setuid = debSpec({ ...input, files: [{ src: "a", dest: "/a", mode: 0o4755 }] }, {
    root: "/",
  }) as Failure;
  assert.match(setuid.message, /key "files\[0\].mode" must be a mode from 0o000 to 0o777/);
});

Deno.test("loadDebSpec() fails with deb-spec-invalid when the file does not exist", async () => {
  const r = await loadDebSpec("test/.tmp/no-such-spec.yaml") as Failure;
  assert.equal(r.reason, "deb-spec-invalid");
  assert.match(r.message, /^Package spec "test\/.tmp\/no-such-spec.yaml" does not exist/);
});

Deno.test("isDebianVersion() accepts policy versions and rejects the rest", () => {
  for (
    const v of ["1", "1.2.3", "1.2.3-1", "2:1.0~rc1-0ubuntu1", "1.0-beta-2", "1:2:3-1", "1.0+dfsg"]
  ) {
    assert.ok(isDebianVersion(v), v);
  }
  for (const v of ["", "v1", "1.0-", "1_0", "1:", "a:1.0", "-1", "1.0 1", "1.0-1_2"]) {
    assert.ok(!isDebianVersion(v), v);
  }
});

Deno.test("isRelation() accepts alternatives, versions and arch qualifiers", () => {
  for (
    const r of ["libc6", "libc6 (>= 2.36)", "aa | bb (<< 2)", "python3:any", "foo [amd64 arm64]"]
  ) {
    assert.ok(isRelation(r), r);
  }
  for (const r of ["Libc6", "libc6 (>= )", "a || b", "libc6 >= 2", ""]) {
    assert.ok(!isRelation(r), r);
  }
});
