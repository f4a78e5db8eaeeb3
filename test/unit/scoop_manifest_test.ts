import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ReleaseArchive } from "../../homebrew/archives.ts";
import { type FormulaSpec, formulaSpec } from "../../homebrew/spec.ts";
import { publishScoopManifest } from "../../scoop/bucket.ts";
import { renderScoopManifest, type ScoopManifest, scoopManifest } from "../../scoop/manifest.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const RELEASES = "https://github.com/example/kiln/releases/download";

function spec(extra: Record<string, unknown> = {}): FormulaSpec {
  const s = formulaSpec({
    name: "kiln",
    desc: "Content-hashed build graph for OS images and release packages",
    homepage: "https://kiln.example.org",
    license: "MIT OR Apache-2.0",
    url: `${RELEASES}/v{version}/kiln-{version}-{os}-{arch}.{ext}`,
    ...extra,
  });
  if ("reason" in s) throw new Error(s.message);
  return s;
}

/** Archives for every platform of `version` in `dir`; returns them and the Windows digests. */
async function archives(dir: string, version: string) {
  const list: ReleaseArchive[] = [];
  const names = { macos: "darwin", linux: "linux", windows: "windows" } as const;
  for (const os of ["macos", "linux", "windows"] as const) {
    for (const [arch, name] of [["arm64", "arm64"], ["x86_64", "amd64"]] as const) {
      const ext = os === "windows" ? "zip" : "tar.gz";
      const path = `${dir}/kiln-${version}-${names[os]}-${name}.${ext}`;
      await Deno.writeTextFile(path, `${os}/${arch}/${version}\n`);
      list.push({ os, arch, path });
    }
  }
  const digest = (arch: string) =>
    createHash("sha256").update(`windows/${arch}/${version}\n`).digest("hex");
  return { list, x64: digest("x86_64"), arm: digest("arm64") };
}

function manifest(m: ScoopManifest | null | { reason: string; message: string }): ScoopManifest {
  assert.ok(m !== null && !("reason" in m), JSON.stringify(m));
  return m as ScoopManifest;
}

Deno.test("scoopManifest() describes the Windows zips with their hashes, checkver and autoupdate", async () => {
  const dir = await makeTmp("scoop-");
  try {
    const { list, x64, arm } = await archives(dir, "1.2.3");
    const m = manifest(await scoopManifest(spec(), "1.2.3", list));
    const text = renderScoopManifest(m);
    assert.ok(text.endsWith("}\n"));
    assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    const json = JSON.parse(text);
    assert.deepEqual(Object.keys(json), [
      "version",
      "description",
      "homepage",
      "license",
      "architecture",
      "bin",
      "checkver",
      "autoupdate",
    ]);
    assert.deepEqual(json, {
      version: "1.2.3",
      description: "Content-hashed build graph for OS images and release packages",
      homepage: "https://kiln.example.org",
      license: "MIT|Apache-2.0",
      architecture: {
        "64bit": { url: `${RELEASES}/v1.2.3/kiln-1.2.3-windows-amd64.zip`, hash: x64 },
        arm64: { url: `${RELEASES}/v1.2.3/kiln-1.2.3-windows-arm64.zip`, hash: arm },
      },
      bin: "kiln.exe",
      checkver: { github: "https://github.com/example/kiln" },
      autoupdate: {
        architecture: {
          "64bit": { url: `${RELEASES}/v$version/kiln-$version-windows-amd64.zip` },
          arm64: { url: `${RELEASES}/v$version/kiln-$version-windows-arm64.zip` },
        },
        hash: { url: "$baseurl/SHA256SUMS" },
      },
    });
    assert.deepEqual(Object.keys(json.architecture), ["64bit", "arm64"]);
    // Same inputs, same bytes, whatever the order of the archives.
    assert.equal(
      renderScoopManifest(manifest(await scoopManifest(spec(), "1.2.3", list.reverse()))),
      text,
    );
  } finally {
    await removeTree(dir);
  }
});

Deno.test("scoopManifest() writes extract_dir, several bins and a custom checkver when the spec has them", async () => {
  const dir = await makeTmp("scoop-");
  try {
    const { list, x64 } = await archives(dir, "2.0.0");
    const s = spec({
      url: "https://dl.example.org/kiln/{version}/kiln-{version}-{os}-{arch}.{ext}",
      homepage: "https://kiln.example.org",
      license: "MIT AND BSD-3-Clause",
      scoop: {
        bin: ["kiln.exe", "kiln-agent.exe"],
        extract_dir: "kiln-{version}",
        checkver: { url: "https://kiln.example.org/releases", regex: "kiln-([\\d.]+)-windows" },
        checksums: null,
      },
    });
    const m = manifest(await scoopManifest(s, "2.0.0", list.filter((a) => a.arch === "x86_64")));
    const json = JSON.parse(renderScoopManifest(m));
    assert.deepEqual(Object.keys(json), [
      "version",
      "description",
      "homepage",
      "license",
      "architecture",
      "extract_dir",
      "bin",
      "checkver",
      "autoupdate",
    ]);
    assert.equal(json.license, "MIT,BSD-3-Clause");
    assert.deepEqual(json.architecture, {
      "64bit": { url: "https://dl.example.org/kiln/2.0.0/kiln-2.0.0-windows-amd64.zip", hash: x64 },
    });
    assert.equal(json.extract_dir, "kiln-2.0.0");
    assert.deepEqual(json.bin, ["kiln.exe", "kiln-agent.exe"]);
    assert.deepEqual(json.checkver, {
      url: "https://kiln.example.org/releases",
      regex: "kiln-([\\d.]+)-windows",
    });
    assert.deepEqual(json.autoupdate, {
      architecture: {
        "64bit": { url: "https://dl.example.org/kiln/$version/kiln-$version-windows-amd64.zip" },
      },
      extract_dir: "kiln-$version",
    });
  } finally {
    await removeTree(dir);
  }
});

Deno.test("scoopManifest() fails or skips without Windows archives, and refuses what Scoop cannot use", async () => {
  const dir = await makeTmp("scoop-");
  try {
    const { list } = await archives(dir, "1.0.0");
    const unix = list.filter((a) => a.os !== "windows");
    const none = await scoopManifest(spec(), "1.0.0", unix);
    assert.ok(none !== null && "reason" in none);
    assert.equal(none.reason, "scoop-no-windows-archives");
    assert.match(
      none.message,
      /got macos arm64, macos x86_64, linux arm64, linux x86_64; build one/,
    );
    assert.equal(await scoopManifest(spec(), "1.0.0", unix, { ifNoWindows: "skip" }), null);

    const tgz = spec({ archive_ext: { windows: "tar.gz" } });
    const notZip = await scoopManifest(tgz, "1.0.0", list);
    assert.equal(notZip !== null && "reason" in notZip && notZip.reason, "scoop-archive-not-zip");

    const offGithub = spec({ url: "https://dl.example.org/{version}/kiln-{os}-{arch}.{ext}" });
    const r = await scoopManifest(offGithub, "1.0.0", list);
    assert.equal(r !== null && "reason" in r && r.reason, "scoop-checkver-missing");

    const win = list.find((a) => a.os === "windows")!;
    const misnamed = await scoopManifest(spec(), "1.0.1", [win]);
    assert.equal(
      misnamed !== null && "reason" in misnamed && misnamed.reason,
      "release-archive-misnamed",
    );
    const badVersion = await scoopManifest(spec(), "v1.0.0", [win]);
    assert.equal(
      badVersion !== null && "reason" in badVersion && badVersion.reason,
      "scoop-version-invalid",
    );
  } finally {
    await removeTree(dir);
  }
});

Deno.test("publishScoopManifest() commits bucket/<name>.json to the bucket and pushes it once", async () => {
  const dir = await makeTmp("scoop-");
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
  };
  const git = async (args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: dir, env, clearEnv: true }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  };
  try {
    await git(["init", "-q", "--bare", "-b", "main", "bucket.git"]);
    const s = spec({ scoop: { bucket: { path: `${dir}/bucket`, remote: `${dir}/bucket.git` } } });
    const v1 = await archives(dir, "1.0.0");
    const first = await publishScoopManifest(s, "1.0.0", v1.list, { env });
    assert.ok(first !== null && !("reason" in first), JSON.stringify(first));
    assert.deepEqual([first.file, first.committed, first.pushed], ["bucket/kiln.json", true, true]);
    const again = await publishScoopManifest(s, "1.0.0", v1.list, { env });
    assert.ok(again !== null && !("reason" in again));
    assert.deepEqual([again.committed, again.pushed], [false, false]);
    const v2 = await archives(dir, "1.1.0");
    await publishScoopManifest(s, "1.1.0", v2.list, { env });
    assert.equal(
      await git(["-C", "bucket.git", "log", "--format=%s", "main"]),
      "kiln: Update to version 1.1.0\nkiln: Add version 1.0.0",
    );
    const json = JSON.parse(await git(["-C", "bucket.git", "show", "main:bucket/kiln.json"]));
    assert.equal(json.version, "1.1.0");
    assert.equal(json.architecture["64bit"].hash, v2.x64);
    const skipped = await publishScoopManifest(s, "1.1.0", [], { env, ifNoWindows: "skip" });
    assert.equal(skipped, null);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("scoopManifest() autoupdate leads Scoop to each archive's own line of a SHA256SUMS file", async () => {
  const dir = await makeTmp("scoop-");
  try {
    const { list, x64, arm } = await archives(dir, "1.2.3");
    const m = manifest(await scoopManifest(spec(), "1.2.3", list));
    // The checksum file as kiln's release tasks write it (GNU `sha256sum` format, every archive).
    const sums = list.map((a) => {
      const data = Deno.readFileSync(a.path);
      return `${createHash("sha256").update(data).digest("hex")}  ${a.path.split("/").pop()}`;
    }).join("\n") + "\n";
    // What Scoop's checkver does: fill $version, then find the hash on the line naming $basename
    // (lib/autoupdate.ps1, find_hash_in_textfile: the regex for files that list several hashes).
    const found = (arch: "64bit" | "arm64") => {
      const url = m.autoupdate.architecture[arch]!.url.replaceAll("$version", "1.2.3");
      assert.equal(
        m.autoupdate.hash?.url.replace("$baseurl", url.slice(0, url.lastIndexOf("/"))),
        `${RELEASES}/v1.2.3/SHA256SUMS`,
      );
      const basename = url.split("/").pop()!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const re = new RegExp(
        `([a-fA-F0-9]{32,128})[\\x20\\t]+.*${basename}(?:\\s|$)|${basename}[\\x20\\t]+.*?([a-fA-F0-9]{32,128})`,
        "i",
      );
      const match = sums.match(re);
      return match?.[1] ?? match?.[2];
    };
    assert.equal(found("64bit"), x64);
    assert.equal(found("arm64"), arm);
    assert.equal(found("64bit"), m.architecture["64bit"]!.hash);
  } finally {
    await removeTree(dir);
  }
});
