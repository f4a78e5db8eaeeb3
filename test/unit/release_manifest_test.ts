import assert from "node:assert/strict";
import {
  artifactUrl,
  buildManifest,
  inferPlatforms,
  releaseDate,
  ReleaseManifestSchema,
  writeReleaseFiles,
} from "../../release/mod.ts";
import { testSigningKey, writeKeyring } from "../rig/signing_key.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

async function run(cmd: string, args: string[], cwd: string) {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const EPOCH = 1714564800; // 2024-05-01T12:00:00Z
const URL_TEMPLATE = "https://dl.example.org/kiln/{version}/{filename}";

async function artifacts(dir: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/kiln_0.1.0_amd64.deb`, "deb amd64\n".repeat(300));
  await Deno.writeTextFile(`${dir}/kiln_0.1.0_arm64.deb`, "deb arm64\n");
  await Deno.writeTextFile(`${dir}/kiln-0.1.0.tar.gz`, "source\n");
  await Deno.writeTextFile(`${dir}/disk x86_64.qcow2`, "disk\n");
}

Deno.test("writeReleaseFiles() writes a manifest whose values are the files' real sizes and hashes", async () => {
  const key = await testSigningKey();
  const dir = await makeTmp("release-manifest-");
  try {
    await artifacts(dir);
    await writeKeyring(key, `${dir}/kiln-archive-keyring.gpg`); // a key, not a signature
    const date = releaseDate((n) => (n === "SOURCE_DATE_EPOCH" ? String(EPOCH) : undefined));
    assert.ok(date instanceof Date);
    const r = await writeReleaseFiles({
      dir,
      artifacts: [
        "kiln_0.1.0_arm64.deb",
        "kiln_0.1.0_amd64.deb",
        "disk x86_64.qcow2",
        { name: "kiln-0.1.0.tar.gz", platforms: ["all"] },
        "kiln-archive-keyring.gpg",
      ],
      version: "0.1.0",
      key,
      urlTemplate: URL_TEMPLATE,
      date,
    });
    assert.ok(!("reason" in r), JSON.stringify(r));
    assert.deepEqual(r.written, [
      "SHA256SUMS",
      "SHA256SUMS.asc",
      "SHA512SUMS",
      "SHA512SUMS.asc",
      "manifest.json",
      "sbom.cdx.json",
    ]);

    const text = await Deno.readTextFile(`${dir}/manifest.json`);
    const manifest = ReleaseManifestSchema.parse(JSON.parse(text));
    assert.equal(manifest.version, "0.1.0");
    assert.equal(manifest.release_date, "2024-05-01T12:00:00Z");
    assert.deepEqual(Object.keys(JSON.parse(text).artifacts[0]), [
      "filename",
      "size_bytes",
      "checksum_sha256",
      "checksum_sha512",
      "signature",
      "platforms",
      "url",
    ]);
    assert.deepEqual(manifest.artifacts.map((a) => a.filename), [
      "disk x86_64.qcow2",
      "kiln-0.1.0.tar.gz",
      "kiln-archive-keyring.gpg",
      "kiln_0.1.0_amd64.deb",
      "kiln_0.1.0_arm64.deb",
    ]);
    for (const a of manifest.artifacts) {
      const stat = await Deno.stat(`${dir}/${a.filename}`);
      assert.equal(a.size_bytes, stat.size, a.filename);
      const s256 = await run("sha256sum", [a.filename], dir);
      const s512 = await run("sha512sum", [a.filename], dir);
      assert.equal(a.checksum_sha256, s256.out.slice(0, 64), a.filename);
      assert.equal(a.checksum_sha512, s512.out.slice(0, 128), a.filename);
      assert.equal(a.signature, "SHA256SUMS.asc");
    }
    const by = Object.fromEntries(manifest.artifacts.map((a) => [a.filename, a]));
    assert.deepEqual(by["kiln_0.1.0_amd64.deb"].platforms, ["linux-amd64"]);
    assert.deepEqual(by["kiln_0.1.0_arm64.deb"].platforms, ["linux-arm64"]);
    assert.deepEqual(by["disk x86_64.qcow2"].platforms, ["linux-amd64"]);
    assert.deepEqual(by["kiln-0.1.0.tar.gz"].platforms, ["all"]);
    assert.equal(
      by["disk x86_64.qcow2"].url,
      "https://dl.example.org/kiln/0.1.0/disk%20x86_64.qcow2",
    );

    // The sums cover the artifacts, the manifest and the SBOM, and the signature checks.
    const sums = await run("sha256sum", ["--strict", "-c", "SHA256SUMS"], dir);
    assert.equal(sums.code, 0, sums.out + sums.err);
    assert.match(sums.out, /manifest\.json: OK/);
    assert.match(sums.out, /sbom\.cdx\.json: OK/);
    assert.equal((await run("sha512sum", ["--strict", "-c", "SHA512SUMS"], dir)).code, 0);
    await writeKeyring(key, `${dir}/ring.gpg`);
    const v = await run(
      "gpgv",
      ["--keyring", `${dir}/ring.gpg`, "SHA256SUMS.asc", "SHA256SUMS"],
      dir,
    );
    assert.equal(v.code, 0, v.err);

    // Reproducible: a second run with the same inputs writes the same manifest and SBOM.
    const sbom = await Deno.readTextFile(`${dir}/sbom.cdx.json`);
    const again = await writeReleaseFiles({
      dir,
      artifacts: [
        "kiln-archive-keyring.gpg",
        "kiln_0.1.0_amd64.deb",
        "kiln_0.1.0_arm64.deb",
        "disk x86_64.qcow2",
        { name: "kiln-0.1.0.tar.gz", platforms: ["all"] },
      ],
      version: "0.1.0",
      key,
      urlTemplate: URL_TEMPLATE,
      date,
    });
    assert.ok(!("reason" in again));
    assert.equal(await Deno.readTextFile(`${dir}/manifest.json`), text);
    assert.equal(await Deno.readTextFile(`${dir}/sbom.cdx.json`), sbom);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("writeReleaseFiles() refuses a signature as an artifact and writes nothing", async () => {
  const key = await testSigningKey();
  const dir = await makeTmp("release-manifest-");
  try {
    await artifacts(dir);
    await Deno.writeTextFile(`${dir}/kiln.iso.sig`, "sig");
    const base = { dir, version: "0.1.0", key, urlTemplate: URL_TEMPLATE, date: new Date(0) };
    const r = await writeReleaseFiles({
      ...base,
      artifacts: ["kiln_0.1.0_amd64.deb", "kiln.iso.sig"],
    });
    assert.ok("reason" in r && r.reason === "release-name-invalid");
    assert.match(r.message, /"kiln\.iso\.sig"/);
    const bad = await writeReleaseFiles({
      ...base,
      urlTemplate: "ftp://x/{filename}",
      artifacts: ["kiln_0.1.0_amd64.deb"],
    });
    assert.ok("reason" in bad && bad.reason === "manifest-url-invalid");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(!names.some((n) => /SUMS|manifest|sbom/.test(n)), names.join(" "));
  } finally {
    await removeTree(dir);
  }
});

Deno.test("buildManifest() rejects a bad platform and the schema rejects extra keys", () => {
  const file = { name: "a.deb", size: 1, sha256: "a".repeat(64), sha512: "b".repeat(128) };
  const m = buildManifest({
    version: "1.0",
    date: new Date(0),
    files: [file],
    urlTemplate: "https://x.org/",
    platforms: () => ["amd64"],
  });
  assert.ok("reason" in m && m.reason === "manifest-invalid");
  assert.match(m.message, /artifacts\.0\.platforms\.0/);
  const ok = buildManifest({
    version: "1.0",
    date: new Date(0),
    files: [file],
    urlTemplate: "https://x.org/",
  });
  assert.ok(!("reason" in ok));
  assert.equal(ok.artifacts[0].url, "https://x.org/a.deb");
  assert.equal(ok.release_date, "1970-01-01T00:00:00Z");
  assert.ok(!ReleaseManifestSchema.safeParse({ ...ok, extra: 1 }).success);
  assert.ok(
    !ReleaseManifestSchema.safeParse({
      ...ok,
      artifacts: [{ ...ok.artifacts[0], checksum_sha256: "x" }],
    }).success,
  );
});

Deno.test("artifactUrl() fills {version} and {filename}, or appends the name to a base URL", () => {
  assert.equal(
    artifactUrl("https://e.org/r/{version}/{filename}", "1.0", "d/a b.iso"),
    "https://e.org/r/1.0/d/a%20b.iso",
  );
  assert.equal(artifactUrl("https://e.org/r/", "1.0", "a.iso"), "https://e.org/r/a.iso");
  const bad = artifactUrl("not a url {filename}", "1", "a");
  assert.ok(typeof bad !== "string" && bad.reason === "manifest-url-invalid");
});

Deno.test("inferPlatforms() reads Debian, RPM and common architecture names", () => {
  assert.deepEqual(inferPlatforms("kiln_0.1.0_amd64.deb"), ["linux-amd64"]);
  assert.deepEqual(inferPlatforms("kiln-0.1.0-1.x86_64.rpm"), ["linux-amd64"]);
  assert.deepEqual(inferPlatforms("kiln-0.1.0-1.aarch64.rpm"), ["linux-arm64"]);
  assert.deepEqual(inferPlatforms("kiln_0.1.0_all.deb"), ["all"]);
  assert.deepEqual(inferPlatforms("kiln-0.1.0-1.noarch.rpm"), ["all"]);
  assert.deepEqual(inferPlatforms("kiln-darwin-arm64.tar.gz"), ["darwin-arm64"]);
  assert.deepEqual(inferPlatforms("ubuntu-24.04.qcow2"), ["all"]);
});

Deno.test("releaseDate() reads SOURCE_DATE_EPOCH and rejects a malformed one", () => {
  const at = (v?: string) =>
    releaseDate((n) => (n === "SOURCE_DATE_EPOCH" ? v : undefined), () => new Date(5));
  assert.deepEqual(at("86400"), new Date(86400_000));
  assert.deepEqual(at(undefined), new Date(5));
  const bad = at("yesterday");
  assert.ok(!(bad instanceof Date) && bad.reason === "source-date-invalid");
});
