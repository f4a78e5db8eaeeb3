import assert from "node:assert/strict";
import {
  compareVersions,
  detectPackerVersion,
  MIN_PACKER,
  type PackerVersion,
  parsePackerVersion,
  planFor,
  pluginsHcl,
  QEMU_PLUGIN,
} from "../../packer/version.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

function v(text: string): PackerVersion {
  const parsed = parsePackerVersion(text);
  assert.ok(parsed, `no version in ${JSON.stringify(text)}`);
  return parsed;
}

Deno.test("parsePackerVersion() reads old, new, bare and prerelease outputs", () => {
  assert.deepEqual(parsePackerVersion("Packer v1.6.6\n"), {
    major: 1,
    minor: 6,
    patch: 6,
    prerelease: "",
    text: "1.6.6",
  });
  const newer = "Packer v1.11.2\n\nYour version of Packer is out of date! The latest version\n" +
    "is 1.12.0. You can update by downloading from www.packer.io/downloads\n";
  assert.equal(parsePackerVersion(newer)?.text, "1.11.2");
  assert.equal(parsePackerVersion("1.6.6\n")?.text, "1.6.6");
  assert.equal(parsePackerVersion("\n  Packer v1.10.0-dev (abc1234)\n")?.text, "1.10.0-dev");
  assert.equal(parsePackerVersion("Packer v1.9.4 (1a2b3c4)")?.minor, 9);
});

Deno.test("parsePackerVersion() returns null when the first line holds no version", () => {
  for (const text of ["", "\n\n", "packer: command not found", "Terraform v1.6.6", "v1.6"]) {
    assert.equal(parsePackerVersion(text), null, JSON.stringify(text));
  }
  assert.equal(parsePackerVersion("Usage: packer\nPacker v1.6.6"), null);
});

Deno.test("compareVersions() orders by major, minor, patch numerically", () => {
  assert.ok(compareVersions(v("1.6.6"), v("1.10.0")) < 0);
  assert.ok(compareVersions(v("1.10.0"), v("1.9.10")) > 0);
  assert.ok(compareVersions(v("2.0.0"), v("1.99.99")) > 0);
  assert.equal(compareVersions(v("1.10.0-dev"), v("1.10.0")), 0);
});

Deno.test("planFor() follows the decision table for every packer generation", () => {
  const table: [string, boolean, boolean, boolean][] = [
    // version, qemuBuiltIn, requiredPlugins, init
    ["1.6.0", true, false, false],
    ["1.6.6", true, false, false],
    ["1.6.99", true, false, false],
    ["1.7.0", true, true, true],
    ["1.8.7", true, true, true],
    ["1.9.4", true, true, true],
    ["1.10.0-dev", false, true, true],
    ["1.10.0", false, true, true],
    ["1.11.2", false, true, true],
    ["1.14.1", false, true, true],
    ["2.0.0", false, true, true],
  ];
  for (const [text, qemuBuiltIn, requiredPlugins, init] of table) {
    const version = v(text);
    assert.deepEqual(planFor(version), { version, qemuBuiltIn, requiredPlugins, init }, text);
  }
});

Deno.test("pluginsHcl() declares the qemu plugin with its source and minimum version", () => {
  const hcl = pluginsHcl();
  assert.equal(QEMU_PLUGIN.source, "github.com/hashicorp/qemu");
  assert.equal(QEMU_PLUGIN.version, ">= 1.1.0");
  const body = hcl.split("\n").filter((l) => !l.startsWith("#")).join("\n");
  assert.equal(
    body,
    [
      "packer {",
      "  required_plugins {",
      "    qemu = {",
      '      source  = "github.com/hashicorp/qemu"',
      '      version = ">= 1.1.0"',
      "    }",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
});

Deno.test("pluginsHcl() is already in packer fmt's canonical form", async () => {
  const dir = await makeTmp("plugins-fmt-");
  try {
    await Deno.writeTextFile(`${dir}/plugins.pkr.hcl`, pluginsHcl());
    const out = await new Deno.Command("packer", {
      args: ["fmt", "-check", "-diff", `${dir}/plugins.pkr.hcl`],
      env: { CHECKPOINT_DISABLE: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `packer fmt -check failed:\n${said}`);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("detectPackerVersion() reads the installed packer", async () => {
  const out = await new Deno.Command("packer", { args: ["--version"], stdout: "piped" }).output();
  const expected = new TextDecoder().decode(out.stdout).trim();
  const version = await detectPackerVersion();
  assert.ok(!("reason" in version), JSON.stringify(version));
  assert.equal(version.text, expected);
  assert.ok(compareVersions(version, v(MIN_PACKER)) >= 0);
});

Deno.test("detectPackerVersion() fails with tool-missing when the binary does not exist", async () => {
  const r = await detectPackerVersion("/nonexistent/packer");
  assert.ok("reason" in r);
  assert.equal(r.reason, "tool-missing");
  assert.match(r.message, /^Packer "\/nonexistent\/packer" was not found: install it/);
});

Deno.test("detectPackerVersion() fails when the binary prints no version or one too old", async () => {
  const dir = await makeTmp("fake-packer-");
  try {
    const fake = (name: string, said: string) => {
      Deno.writeTextFileSync(`${dir}/${name}`, `#!/bin/sh\necho '${said}'\n`);
      Deno.chmodSync(`${dir}/${name}`, 0o755);
      return `${dir}/${name}`;
    };
    const none = await detectPackerVersion(fake("none", "hello"));
    assert.ok("reason" in none && none.reason === "packer-version-unknown", JSON.stringify(none));
    assert.match(none.message, /printed no version \("hello"\)/);
    const old = await detectPackerVersion(fake("old", "Packer v1.5.6"));
    assert.ok("reason" in old && old.reason === "packer-too-old", JSON.stringify(old));
    assert.equal(old.message, `Packer 1.5.6 is older than 1.6.6: install packer 1.6.6 or newer`);
    const newer = await detectPackerVersion(fake("new", "Packer v1.11.2"));
    assert.ok(!("reason" in newer) && newer.text === "1.11.2");
  } finally {
    await removeTree(dir);
  }
});
