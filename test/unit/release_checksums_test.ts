import assert from "node:assert/strict";
import { isUnlistedFile, sumsText, writeChecksums } from "../../release/checksums.ts";
import { digestReleaseFile } from "../../release/digest.ts";
import { testSigningKey, writeKeyring } from "../rig/signing_key.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

async function run(cmd: string, args: string[], cwd: string) {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** A release folder with artifacts, one in a subfolder, plus stray signature files. */
async function releaseDir(key: Awaited<ReturnType<typeof testSigningKey>>): Promise<string> {
  const dir = await makeTmp("release-sums-");
  await Deno.mkdir(`${dir}/debs`);
  await Deno.writeTextFile(`${dir}/b-image.qcow2`, "image bytes\n".repeat(1000));
  await Deno.writeTextFile(`${dir}/a file with spaces.txt`, "hello\n");
  await Deno.writeTextFile(`${dir}/debs/kiln_0.1.0_amd64.deb`, "deb\n");
  await Deno.writeTextFile(`${dir}/Zeta.iso`, ""); // uppercase sorts before lowercase bytewise
  await Deno.writeTextFile(`${dir}/b-image.qcow2.sig`, "not listed\n");
  await Deno.writeTextFile(`${dir}/Release.gpg`, "-----BEGIN PGP SIGNATURE-----\n");
  // A shipped keyring is an artifact, though it ends in .gpg.
  await writeKeyring(key, `${dir}/archive-keyring.gpg`);
  return dir;
}

const ALL = [
  "b-image.qcow2",
  "a file with spaces.txt",
  "debs/kiln_0.1.0_amd64.deb",
  "Zeta.iso",
  "b-image.qcow2.sig",
  "Release.gpg",
  "archive-keyring.gpg",
  "SHA256SUMS",
];

Deno.test("writeChecksums() writes sums that sha256sum -c, sha512sum -c and gpgv accept", async () => {
  const key = await testSigningKey();
  const dir = await releaseDir(key);
  try {
    const r = await writeChecksums(dir, ALL, key);
    assert.ok(!("reason" in r), JSON.stringify(r));
    assert.deepEqual(r.skipped, ["b-image.qcow2.sig", "Release.gpg", "SHA256SUMS"]);
    assert.deepEqual(r.written, ["SHA256SUMS", "SHA256SUMS.asc", "SHA512SUMS", "SHA512SUMS.asc"]);
    for (const tool of ["sha256sum", "sha512sum"]) {
      const c = await run(
        tool,
        ["--strict", "-c", tool.replace("sum", "").toUpperCase() + "SUMS"],
        dir,
      );
      assert.equal(c.code, 0, c.out + c.err);
      assert.equal(c.out.split("\n").filter((l) => l.endsWith(": OK")).length, 5, c.out);
    }
    await writeKeyring(key, `${dir}/ring.gpg`);
    for (const sums of ["SHA256SUMS", "SHA512SUMS"]) {
      const v = await run("gpgv", ["--keyring", `${dir}/ring.gpg`, `${sums}.asc`, sums], dir);
      assert.equal(v.code, 0, v.err);
    }
    const text = await Deno.readTextFile(`${dir}/SHA256SUMS`);
    assert.deepEqual(text.split("\n").map((l) => l.slice(66)), [
      "Zeta.iso",
      "a file with spaces.txt",
      "archive-keyring.gpg",
      "b-image.qcow2",
      "debs/kiln_0.1.0_amd64.deb",
      "",
    ]);
    assert.match(text, /^[0-9a-f]{64} {2}\S/);
    assert.ok(!/\.(asc|sig)$|Release\.gpg|SUMS/m.test(text), text);
    assert.ok(!(await Deno.readTextFile(`${dir}/SHA512SUMS`)).includes("SUMS"));

    // A changed artifact fails the check; a changed sums file fails the signature.
    await Deno.writeTextFile(`${dir}/Zeta.iso`, "x");
    assert.notEqual((await run("sha256sum", ["-c", "SHA256SUMS"], dir)).code, 0);
    await Deno.writeTextFile(`${dir}/SHA256SUMS`, text.replace("Zeta", "Zetb"));
    const bad = await run(
      "gpgv",
      ["--keyring", `${dir}/ring.gpg`, "SHA256SUMS.asc", "SHA256SUMS"],
      dir,
    );
    assert.notEqual(bad.code, 0);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("writeChecksums() fails with nothing written when a file is missing or a name escapes", async () => {
  const key = await testSigningKey();
  const dir = await makeTmp("release-sums-");
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "a");
    const missing = await writeChecksums(dir, ["a.txt", "gone.iso"], key);
    assert.ok("reason" in missing && missing.reason === "release-file-missing");
    assert.match(missing.message, /"gone\.iso"/);
    const escape = await writeChecksums(dir, ["../a.txt"], key);
    assert.ok("reason" in escape && escape.reason === "release-name-invalid");
    const newline = await writeChecksums(dir, ["a\nb"], key);
    assert.ok("reason" in newline && newline.reason === "release-name-invalid");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("digestReleaseFile() gives the same size and digests as the coreutils tools", async () => {
  const dir = await makeTmp("release-digest-");
  try {
    // Larger than one 4 MiB read, so the streaming path is exercised.
    const data = new Uint8Array(9 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 0xff);
    await Deno.writeFile(`${dir}/big.bin`, data);
    const d = await digestReleaseFile(dir, "big.bin");
    assert.ok(!("reason" in d));
    assert.equal(d.size, data.length);
    assert.equal(d.sha256, (await run("sha256sum", ["big.bin"], dir)).out.slice(0, 64));
    assert.equal(d.sha512, (await run("sha512sum", ["big.bin"], dir)).out.slice(0, 128));
  } finally {
    await removeTree(dir);
  }
});

Deno.test("isUnlistedFile() leaves out signatures and sums files but keeps shipped keys", () => {
  assert.ok(isUnlistedFile("SHA256SUMS"));
  assert.ok(isUnlistedFile("x/SHA512SUMS.asc"));
  assert.ok(isUnlistedFile("a.iso.sig"));
  assert.ok(isUnlistedFile("a.iso.asc", new TextEncoder().encode("-----BEGIN PGP SIGNATURE-----")));
  assert.ok(isUnlistedFile("Release.gpg", new Uint8Array([0x89, 0x02]))); // old-format tag 2
  assert.ok(
    !isUnlistedFile("k.asc", new TextEncoder().encode("-----BEGIN PGP PUBLIC KEY BLOCK-----")),
  );
  assert.ok(!isUnlistedFile("ring.gpg", new Uint8Array([0x99, 0x00]))); // old-format tag 6
  assert.ok(!isUnlistedFile("ring.gpg", new Uint8Array([0xc6, 0x33]))); // new-format tag 6
  assert.ok(!isUnlistedFile("kiln.iso"));
});

Deno.test("sumsText() sorts by bytes and ends every line with LF", () => {
  const f = (name: string) => ({ name, size: 0, sha256: "0".repeat(64), sha512: "1".repeat(128) });
  const text = sumsText([f("b"), f("é"), f("B"), f("a")], "sha512");
  assert.deepEqual(text.split("\n").map((l) => l.slice(130)), ["B", "a", "b", "é", ""]);
  assert.ok(text.startsWith("1".repeat(128) + "  B\n"));
});
