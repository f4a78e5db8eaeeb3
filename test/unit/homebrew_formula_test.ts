import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildFormula } from "../../homebrew/formula.ts";
import { formulaClassName, rubyString } from "../../homebrew/ruby.ts";
import { checkRubySyntax } from "../../homebrew/ruby_check.ts";
import { type FormulaSpec, formulaSpec, type FormulaSpecInput } from "../../homebrew/spec.ts";
import { findArchives, type ReleaseArchive } from "../../homebrew/archives.ts";
import { loadWithStandIn, rubyCheck, type StandInReport } from "../rig/formula_standin.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const URL_TEMPLATE =
  "https://github.com/example/kiln/releases/download/v{version}/kiln-{version}-{os}-{arch}.{ext}";

function spec(extra: Partial<FormulaSpecInput> = {}): FormulaSpec {
  const s = formulaSpec({
    name: "kiln",
    desc: "Content-hashed build graph for OS images and release packages",
    homepage: "https://github.com/example/kiln",
    license: "MIT",
    url: URL_TEMPLATE,
    ...extra,
  });
  if ("reason" in s) throw new Error(s.message);
  return s;
}

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");
const NAMES = { macos: "darwin", linux: "linux", windows: "windows" } as const;
const ARCH = { arm64: "arm64", x86_64: "amd64" } as const;

/** Writes an archive per platform (distinct contents) and returns them with their digests. */
async function archives(
  dir: string,
  version: string,
  platforms: [keyof typeof NAMES, keyof typeof ARCH][],
): Promise<{ list: ReleaseArchive[]; digests: Record<string, string> }> {
  const list: ReleaseArchive[] = [];
  const digests: Record<string, string> = {};
  for (const [os, arch] of platforms) {
    const ext = os === "windows" ? "zip" : "tar.gz";
    const path = `${dir}/kiln-${version}-${NAMES[os]}-${ARCH[arch]}.${ext}`;
    const content = `archive ${os} ${arch} ${version}\n`;
    await Deno.writeTextFile(path, content);
    list.push({ os, arch, path });
    digests[`${os}-${arch}`] = sha256(content);
  }
  return { list, digests };
}

/** Writes `text` as `<dir>/Formula/<name>.rb`, checks it with `ruby -c` and the stand-in. */
async function load(dir: string, name: string, text: string): Promise<StandInReport> {
  await Deno.mkdir(`${dir}/Formula`, { recursive: true });
  const path = `${dir}/Formula/${name}.rb`;
  await Deno.writeTextFile(path, text);
  assert.equal(await rubyCheck(path), null);
  const report = await loadWithStandIn(path);
  if ("error" in report) assert.fail(`stand-in rejected the formula: ${report.error}\n${text}`);
  return report;
}

const url = (version: string, os: string, arch: string, ext = "tar.gz") =>
  `https://github.com/example/kiln/releases/download/v${version}/kiln-${version}-${os}-${arch}.${ext}`;

Deno.test("formulaClassName() derives the class name Homebrew expects from a formula name", () => {
  assert.equal(formulaClassName("kiln"), "Kiln");
  assert.equal(formulaClassName("kiln-tool"), "KilnTool");
  assert.equal(formulaClassName("foo@1.2"), "FooAT12");
  assert.equal(formulaClassName("python@3.12"), "PythonAT312");
  assert.equal(formulaClassName("libxml++"), "Libxmlxx");
  assert.equal(formulaClassName("my_tool.cli"), "MyToolCli");
  assert.equal(formulaClassName("a-b-c"), "ABC");
});

Deno.test("rubyString() makes a literal Ruby reads back as the same characters", async () => {
  const dir = await makeTmp("rubystr-");
  try {
    const samples = [
      'plain "quoted" text',
      "#{system('touch pwned')} #$0 #@x #@@y # {not} ##",
      'back\\slash \\" \\#{x} end\\',
      "tab\there\nnewline\r\u0000nul\u001bescape\u007fdel",
      "UTF-8: é ✓ 日本 🚀",
    ];
    const program = samples.map((s) => `print ${rubyString(s)}, "\\u0001"`).join("\n");
    await Deno.writeTextFile(`${dir}/strings.rb`, program);
    const out = await new Deno.Command("ruby", { args: ["strings.rb"], cwd: dir, stdout: "piped" })
      .output();
    assert.ok(out.success);
    assert.deepEqual(new TextDecoder().decode(out.stdout).split("\u0001").slice(0, -1), samples);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["strings.rb"]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildFormula() gives each OS and CPU its own url and sha256", async () => {
  const dir = await makeTmp("formula-");
  try {
    const { list, digests } = await archives(dir, "1.2.3", [
      ["linux", "x86_64"],
      ["macos", "arm64"],
      ["windows", "x86_64"],
      ["linux", "arm64"],
      ["macos", "x86_64"],
    ]);
    const s = spec({
      license: "MIT OR Apache-2.0",
      depends_on: ["git", { name: "pkg-config", type: "build" }],
      test: 'assert_match version.to_s, shell_output("#{bin}/kiln --version")',
    });
    const text = await buildFormula(s, "1.2.3", list);
    assert.equal(typeof text, "string", JSON.stringify(text));
    const r = await load(dir, "kiln", text as string);
    assert.equal(r.class, "Kiln");
    assert.equal(r.version, "1.2.3");
    assert.equal(r.desc, s.desc);
    assert.equal(r.homepage, "https://github.com/example/kiln");
    assert.deepEqual(r.license, { any_of: ["MIT", "Apache-2.0"] });
    assert.deepEqual(r.depends_on, ["git", "pkg-config => build"]);
    assert.deepEqual(r.platforms, {
      "macos-arm64": {
        url: url("1.2.3", "darwin", "arm64"),
        sha256: digests["macos-arm64"],
        supported: true,
      },
      "macos-x86_64": {
        url: url("1.2.3", "darwin", "amd64"),
        sha256: digests["macos-x86_64"],
        supported: true,
      },
      "linux-arm64": {
        url: url("1.2.3", "linux", "arm64"),
        sha256: digests["linux-arm64"],
        supported: true,
      },
      "linux-x86_64": {
        url: url("1.2.3", "linux", "amd64"),
        sha256: digests["linux-x86_64"],
        supported: true,
      },
    });
    assert.deepEqual(r.install, [["bin.install", "kiln"]]);
    assert.deepEqual(r.test, [
      ["shell_output", "/standin/prefix/bin/kiln --version", 0],
      ["assert_match", "1.2.3", ""],
    ]);
    assert.doesNotMatch(text as string, /windows/);
    // Same inputs, same bytes; another archive, another formula.
    assert.equal(await buildFormula(s, "1.2.3", [...list].reverse()), text);
    await Deno.writeTextFile(list[0].path, "rebuilt\n");
    assert.notEqual(await buildFormula(s, "1.2.3", list), text);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildFormula() leaves out platforms without an archive and depends on the OS it has", async () => {
  const dir = await makeTmp("formula-");
  try {
    const { list, digests } = await archives(dir, "2.0.0", [["macos", "arm64"]]);
    const text = await buildFormula(spec(), "2.0.0", list) as string;
    assert.doesNotMatch(text, /on_linux/);
    const r = await load(dir, "kiln", text);
    assert.deepEqual(r.depends_on, ["macos"]);
    assert.deepEqual(r.platforms, {
      "macos-arm64": {
        url: url("2.0.0", "darwin", "arm64"),
        sha256: digests["macos-arm64"],
        supported: true,
      },
      "macos-x86_64": null,
      "linux-arm64": null,
      "linux-x86_64": null,
    });
    const linux = await archives(dir, "2.0.0", [["linux", "x86_64"]]);
    const r2 = await load(dir, "kiln", await buildFormula(spec(), "2.0.0", linux.list) as string);
    assert.deepEqual(r2.depends_on, ["linux"]);
    assert.equal(r2.platforms["linux-x86_64"]?.sha256, linux.digests["linux-x86_64"]);
    assert.equal(r2.platforms["linux-arm64"], null);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildFormula() escapes quotes, interpolation and backslashes in desc and names the class from @", async () => {
  const dir = await makeTmp("formula-");
  try {
    const desc = 'Says "hi", #{system("touch pwned")}, #$0 #@x and back\\slashes \\" end\\';
    const s = spec({
      name: "kiln@1.2",
      desc,
      homepage: 'https://example.org/kiln?a=1&b="2"#{x}',
      install: ['bin.install "kiln" => "kiln@1.2"', 'man1.install "kiln.1"'],
    });
    const { list } = await archives(dir, "1.2.0", [["linux", "arm64"]]);
    const text = await buildFormula(s, "1.2.0", list) as string;
    const r = await load(dir, "kiln@1.2", text);
    assert.equal(r.class, "KilnAT12");
    assert.equal(r.desc, desc);
    assert.equal(r.homepage, 'https://example.org/kiln?a=1&b="2"#{x}');
    assert.deepEqual(r.install, [["bin.install", "kiln", "kiln@1.2"], ["man1.install", "kiln.1"]]);
    assert.deepEqual(r.test, [["system", "/standin/prefix/bin/kiln@1.2", "--version"]]);
    assert.equal([...Deno.readDirSync(dir)].some((e) => e.name === "pwned"), false);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("the stand-in rejects formulas Homebrew would not load as meant", async () => {
  const dir = await makeTmp("formula-");
  try {
    const { list } = await archives(dir, "1.0.0", [["macos", "arm64"], ["macos", "x86_64"]]);
    const good = await buildFormula(spec(), "1.0.0", list) as string;
    await load(dir, "kiln", good);
    const broken: [string, RegExp][] = [
      [good.replace(/^ {6}sha256 .*\n/m, ""), /url without sha256/],
      [good.replace("class Kiln ", "class KilnTool "), /Homebrew expects Kiln/],
      [good.replace("    else\n", "    end\n    if true\n"), /url set twice/],
      [good.replace(/^ {2}def install\n.*\n {2}end\n/m, ""), /def install missing/],
      [good.replace('version "1.0.0"', "version 1.0"), /version takes a String/],
    ];
    for (const [text, why] of broken) {
      assert.notEqual(text, good);
      await Deno.writeTextFile(`${dir}/Formula/kiln.rb`, text);
      const r = await loadWithStandIn(`${dir}/Formula/kiln.rb`);
      assert.ok("error" in r, `stand-in accepted:\n${text}`);
      assert.match(r.error, why);
    }
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildFormula() fails when an archive is misnamed, missing, doubled or absent", async () => {
  const dir = await makeTmp("formula-");
  try {
    const { list } = await archives(dir, "1.0.0", [["macos", "arm64"], ["linux", "x86_64"]]);
    const reason = async (a: ReleaseArchive[], version = "1.0.0") => {
      const r = await buildFormula(spec(), version, a);
      return typeof r === "string" ? "ok" : `${r.reason}: ${r.message}`;
    };
    assert.match(
      await reason([{ ...list[0], arch: "x86_64" }]),
      /^release-archive-misnamed: .*must be named "kiln-1.0.0-darwin-amd64.tar.gz"/,
    );
    assert.match(await reason([list[0], list[0]]), /^release-archive-duplicate: /);
    await Deno.remove(list[1].path);
    assert.match(await reason(list), /^release-archive-missing: .*linux x86_64 does not exist/);
    assert.match(
      await reason([{ os: "windows", arch: "x86_64", path: `${dir}/k.zip` }]),
      /^formula-no-archives: .*\(got windows x86_64\)/,
    );
    assert.match(await reason([list[0]], "v1.0.0"), /^formula-version-invalid: .*"1.0.0"/);
    assert.equal(await reason([list[0]]), "ok");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("findArchives() finds the archives of a version by the names the URL template gives", async () => {
  const dir = await makeTmp("formula-");
  try {
    await archives(dir, "3.1.0", [["windows", "arm64"], ["linux", "x86_64"], ["macos", "arm64"]]);
    await archives(dir, "3.0.0", [["linux", "arm64"]]);
    const found = await findArchives(spec(), "3.1.0", dir);
    assert.deepEqual(found.map((a) => [a.os, a.arch, a.path]), [
      ["macos", "arm64", `${dir}/kiln-3.1.0-darwin-arm64.tar.gz`],
      ["linux", "x86_64", `${dir}/kiln-3.1.0-linux-amd64.tar.gz`],
      ["windows", "arm64", `${dir}/kiln-3.1.0-windows-arm64.zip`],
    ]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("checkRubySyntax() reports a broken install line with its line number", async () => {
  const dir = await makeTmp("formula-");
  try {
    const { list } = await archives(dir, "1.0.0", [["linux", "x86_64"]]);
    const good = await buildFormula(spec(), "1.0.0", list) as string;
    assert.equal(await checkRubySyntax(good, "Formula/kiln.rb"), null);
    const bad = await buildFormula(
      spec({ install: 'bin.install("kiln"' }),
      "1.0.0",
      list,
    ) as string;
    const f = await checkRubySyntax(bad, "Formula/kiln.rb");
    assert.equal(f?.reason, "formula-syntax-invalid");
    assert.match(f!.message, /^Formula "Formula\/kiln.rb" is not valid Ruby: line \d+: /);
    assert.doesNotMatch(f!.message, /\n/);
  } finally {
    await removeTree(dir);
  }
});
