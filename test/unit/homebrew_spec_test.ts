import assert from "node:assert/strict";
import { formulaSpec, loadFormulaSpec, parseFormulaSpec } from "../../homebrew/spec.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/** A valid spec; tests change one line of it and expect that line in the message. */
const VALID = `name: kiln
desc: Content-hashed build graph for OS images and release packages
homepage: https://github.com/example/kiln
license: MIT OR Apache-2.0
url: https://github.com/example/kiln/releases/download/v{version}/kiln-{version}-{os}-{arch}.{ext}
install: |
  bin.install "kiln"
  man1.install "kiln.1"
test:
  - assert_match version.to_s, shell_output("#{bin}/kiln --version")
depends_on:
  - git
  - { name: pkg-config, type: build }
tap:
  path: ../homebrew-tap
  remote: git@github.com:example/homebrew-tap.git
  author: { name: kiln release, email: release@example.org }
scoop:
  bin: kiln.exe
`;

/** The failure message for `text`, which must be invalid. */
function errorOf(text: string, file = "kiln.formula.yaml"): string {
  const r = parseFormulaSpec(text, file);
  assert.ok("reason" in r, "expected a failure");
  assert.equal(r.reason, "formula-spec-invalid");
  assert.doesNotMatch(r.message, /\n/);
  return r.message;
}

/** `VALID` with the line starting `prefix` replaced by `line`. */
function edit(prefix: string, line: string): string {
  const lines = VALID.split("\n");
  const i = lines.findIndex((l) => l.startsWith(prefix));
  assert.ok(i >= 0, prefix);
  lines[i] = line;
  return lines.join("\n");
}

Deno.test("parseFormulaSpec() reads a valid spec and fills in the defaults", () => {
  const s = parseFormulaSpec(VALID, "/work/release/kiln.formula.yaml");
  if ("reason" in s) assert.fail(s.message);
  assert.equal(s.name, "kiln");
  assert.deepEqual(s.install, ['bin.install "kiln"', 'man1.install "kiln.1"']);
  assert.deepEqual(s.test, ['assert_match version.to_s, shell_output("#{bin}/kiln --version")']);
  assert.deepEqual(s.depends_on, [{ name: "git" }, { name: "pkg-config", type: "build" }]);
  assert.deepEqual(s.tap, {
    path: "/work/homebrew-tap",
    remote: "git@github.com:example/homebrew-tap.git",
    branch: "main",
    author: { name: "kiln release", email: "release@example.org" },
  });
  assert.deepEqual(s.os_names, { macos: "darwin", linux: "linux", windows: "windows" });
  assert.deepEqual(s.arch_names, { arm64: "arm64", x86_64: "amd64" });
  assert.deepEqual(s.archive_ext, { macos: "tar.gz", linux: "tar.gz", windows: "zip" });
  assert.deepEqual(s.scoop, { bin: "kiln.exe", checksums: "SHA256SUMS" });
});

Deno.test("formulaSpec() validates a spec built in code and writes the install and test defaults", () => {
  const s = formulaSpec({
    name: "kiln-tool",
    desc: "Build graph",
    homepage: "https://example.org",
    license: "MIT",
    url: "https://example.org/dl/{version}/kiln-tool-{os}-{arch}.tar.gz",
    arch_names: { x86_64: "x86_64" },
  });
  if ("reason" in s) assert.fail(s.message);
  assert.deepEqual(s.install, ['bin.install "kiln-tool"']);
  assert.deepEqual(s.test, ['system "#{bin}/kiln-tool", "--version"']);
  assert.deepEqual(s.arch_names, { arm64: "arm64", x86_64: "x86_64" });
  const bad = formulaSpec({
    name: "kiln",
    desc: "Build graph",
    homepage: "http://example.org",
    license: "MIT",
    url: "https://example.org/{version}",
  });
  assert.ok("reason" in bad);
  assert.equal(
    bad.message,
    'Formula spec (given in code): key "homepage" must be an https URL, got ' +
      '"http://example.org"; write https://host/path and rerun',
  );
});

Deno.test("parseFormulaSpec() names the file, line and key of each kind of mistake", () => {
  const cases: [string, string][] = [
    [
      edit("desc:", "desc: Content-hashed build graph."),
      'line 2: key "desc" must not end with a period, got "Content-hashed build graph."; remove it and rerun',
    ],
    [
      edit("desc:", "desc: A build graph"),
      'line 2: key "desc" must not start with an article, got "A build graph"; drop the leading "A" or "An" and rerun',
    ],
    [
      edit("desc:", "desc: Kiln builds graphs"),
      'line 2: key "desc" must not start with the formula name, got "Kiln builds graphs"; describe what it does instead and rerun',
    ],
    [
      edit("homepage:", "homepag: https://github.com/example/kiln"),
      'line 3: key "homepag" is not known; rename it to homepage and rerun',
    ],
    [
      edit("license:", "license: MIT/Apache"),
      'line 4: key "license" must be an SPDX license id such as "MIT" or "MIT OR Apache-2.0", got "MIT/Apache"; see https://spdx.org/licenses/ (no parentheses, do not mix OR and AND) and rerun',
    ],
    [
      edit("url:", "url: https://example.org/{version}/kiln-{platform}.tar.gz"),
      'line 5: key "url" may only hold the placeholders {version}, {os}, {arch}, {ext}, got "https://example.org/{version}/kiln-{platform}.tar.gz"; remove {platform} and rerun',
    ],
    [
      edit("url:", "url: https://example.org/kiln.tar.gz"),
      'line 5: key "url" must hold {version}, got "https://example.org/kiln.tar.gz"; write e.g. .../v{version}/kiln-{version}-{os}-{arch}.{ext} and rerun',
    ],
    [
      edit("  - { name: pkg-config", "  - { name: pkg-config, type: runtime }"),
      'line 13: key "depends_on[1].type" must be one of build, test, optional, recommended, got "runtime"; write one of them and rerun',
    ],
    [
      edit("  - git", "  - Git Tools"),
      'line 12: key "depends_on[0]" must be a formula name such as "openssl@3", got "Git Tools"; write the name Homebrew knows and rerun',
    ],
    [
      edit("  author:", "  author: { name: kiln, email: nobody }"),
      'line 17: key "tap.author.email" must be an email address, got "nobody"; write name@example.org and rerun',
    ],
    [
      edit("  remote:", "  remote: x\n  branch: feature..x"),
      'line 17: key "tap.branch" must be a branch name such as "main", got "feature..x"; fix it and rerun',
    ],
    [
      edit("  bin: kiln.exe", "  chekver: github"),
      'line 19: key "scoop.chekver" is not known; rename it to checkver and rerun',
    ],
    [
      edit("  bin: kiln.exe", "  checkver: gitlab"),
      'line 19: key "scoop.checkver" must be github or a map with url and regex, got "gitlab"; write checkver: github and rerun',
    ],
    [
      VALID.replace(/depends_on:\n.*\n.*\n/, "depends_on: git\n"),
      'line 11: key "depends_on" must be a list, got the string "git"; write it as a list: [git] and rerun',
    ],
    [
      VALID.replace("license: MIT OR Apache-2.0\n", ""),
      'line 1: key "license" is missing; add it and rerun',
    ],
    [
      edit("name:", "name: Kiln"),
      'line 1: key "name" must be a Homebrew formula name such as "kiln" or "kiln@1.2", got "Kiln"; use lowercase letters, digits and + _ . @ -, starting with a letter and rerun',
    ],
    [
      VALID.replace(/install: \|\n.*\n.*\n/, "install: []\n"),
      'line 6: key "install" must hold at least one line of Ruby; write one and rerun',
    ],
  ];
  for (const [text, expected] of cases) {
    assert.equal(errorOf(text), `Formula spec "kiln.formula.yaml" ${expected}`);
  }
});

Deno.test("parseFormulaSpec() reports YAML syntax errors and a spec that is not a map", () => {
  assert.match(
    errorOf(VALID.replace("  path: ../homebrew-tap", "\tpath: ../homebrew-tap")),
    /^Formula spec "kiln.formula.yaml" line 15: invalid YAML: .*and rerun$/,
  );
  assert.match(
    errorOf(`${VALID}name: again\n`),
    /^Formula spec "kiln.formula.yaml" line 20: invalid YAML: duplicate key "name"; remove or rename one of them and rerun$/,
  );
  assert.equal(
    errorOf("- name: kiln\n"),
    'Formula spec "kiln.formula.yaml" line 1: expected a map of keys (name:, desc:, ...), got a list; fix it and rerun',
  );
});

Deno.test("loadFormulaSpec() reads a file and says when it does not exist", async () => {
  const dir = await makeTmp("spec-");
  try {
    await Deno.writeTextFile(`${dir}/kiln.formula.yaml`, VALID);
    const s = await loadFormulaSpec(`${dir}/kiln.formula.yaml`);
    if ("reason" in s) assert.fail(s.message);
    assert.equal(s.tap?.path, dir.replace(/\/[^/]+$/, "/homebrew-tap"));
    const missing = await loadFormulaSpec(`${dir}/nope.yaml`);
    assert.ok("reason" in missing);
    assert.equal(
      missing.message,
      `Formula spec ${JSON.stringify(`${dir}/nope.yaml`)} does not exist; check the path and rerun`,
    );
  } finally {
    await removeTree(dir);
  }
});
