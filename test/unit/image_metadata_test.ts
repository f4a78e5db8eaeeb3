import assert from "node:assert/strict";
import { convertImage } from "../../image/convert.ts";
import {
  type BuildMetadata,
  compareNames,
  describeImage,
  detectBuilder,
  type ImageRecord,
  isoTime,
  metadataJson,
  normalizeFingerprint,
  sha256SumsText,
  writeMetadata,
  writeSha256Sums,
} from "../../image/metadata.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const A256 = "a".repeat(64);
const B256 = "b".repeat(64);
const A512 = "a".repeat(128);
const B512 = "b".repeat(128);

function facts(images: ImageRecord[]): BuildMetadata {
  return {
    distro: "ubuntu",
    version: "22.04",
    iso: {
      sha256: "c".repeat(64),
      signerFingerprint: "8439 38df 228d 22f7 b374  2bc0 d94a a3f0 efe2 1092",
    },
    packerVersion: "1.6.6",
    qemuVersion: "7.2.22",
    images,
    builder: "ci",
    startedAt: new Date("2026-11-21T08:00:00.250Z"),
    finishedAt: new Date("2026-11-21T09:30:15.999Z"),
  };
}

async function run(cmd: string, args: string[], cwd?: string) {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { ok: r.success, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

Deno.test("metadataJson() writes every field in a fixed order with UTC second times", () => {
  const qcow = { file: "u.qcow2", format: "qcow2", size: 10, sha256: A256, sha512: A512 };
  const text = metadataJson(facts([qcow]));
  assert.equal(
    text,
    `{
  "schema": 1,
  "distro": "ubuntu",
  "version": "22.04",
  "iso": {
    "sha256": "${"c".repeat(64)}",
    "signerFingerprint": "843938DF228D22F7B3742BC0D94AA3F0EFE21092"
  },
  "packerVersion": "1.6.6",
  "qemuVersion": "7.2.22",
  "images": [
    {
      "file": "u.qcow2",
      "format": "qcow2",
      "size": 10,
      "sha256": "${A256}",
      "sha512": "${A512}"
    }
  ],
  "builder": "ci",
  "startedAt": "2026-11-21T08:00:00Z",
  "finishedAt": "2026-11-21T09:30:15Z"
}
`,
  );
});

Deno.test("metadataJson() gives the same bytes whatever the order of images and fields given", () => {
  const a = { file: "u.qcow2", format: "qcow2", size: 10, sha256: A256, sha512: A512 };
  const b = { sha512: B512, sha256: B256, size: 20, format: "ova", file: "u.ova" };
  const one = metadataJson(facts([a, b]));
  assert.equal(metadataJson(facts([b, a])), one);
  assert.deepEqual(JSON.parse(one).images.map((i: ImageRecord) => i.file), ["u.ova", "u.qcow2"]);
  const unsigned = JSON.parse(
    metadataJson({ ...facts([a]), iso: { sha256: A256, signerFingerprint: null } }),
  );
  assert.equal(unsigned.iso.signerFingerprint, null);
});

Deno.test("metadataJson() throws on malformed digests, fingerprints and times", () => {
  const a = { file: "u.qcow2", format: "qcow2", size: 10, sha256: A256, sha512: A512 };
  assert.throws(() => metadataJson(facts([{ ...a, sha512: A256 }])), /bad digest for u\.qcow2/);
  assert.throws(() => metadataJson(facts([{ ...a, file: "dist/u.qcow2" }])), /has a folder/);
  assert.throws(() =>
    metadataJson({ ...facts([a]), iso: { sha256: "x", signerFingerprint: null } })
  );
  assert.throws(
    () => metadataJson({ ...facts([a]), iso: { sha256: A256, signerFingerprint: "ABCD" } }),
    /not an OpenPGP fingerprint/,
  );
  assert.throws(
    () => metadataJson({ ...facts([a]), finishedAt: new Date("2026-11-21T07:00:00Z") }),
    /finished before it started/,
  );
  assert.throws(() => metadataJson({ ...facts([a]), builder: "laptop" as "local" }), /bad builder/);
});

Deno.test("isoTime() and normalizeFingerprint() give the canonical forms", () => {
  assert.equal(isoTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), "2026-01-02T03:04:05Z");
  assert.throws(() => isoTime(new Date("nope")), /invalid date/);
  const v6 = "ab".repeat(32);
  assert.equal(normalizeFingerprint(v6), v6.toUpperCase());
  assert.throws(() => normalizeFingerprint("G".repeat(40)));
});

Deno.test("detectBuilder() prefers KILN_BUILDER, then CI, then local", () => {
  assert.equal(detectBuilder({}), "local");
  assert.equal(detectBuilder({ CI: "true" }), "ci");
  assert.equal(detectBuilder({ CI: "false" }), "local");
  assert.equal(detectBuilder({ CI: "true", KILN_BUILDER: "cloud" }), "cloud");
  assert.equal(detectBuilder({ KILN_BUILDER: "" }), "local");
  assert.throws(() => detectBuilder({ KILN_BUILDER: "laptop" }), /use local, ci or cloud/);
});

Deno.test("sha256SumsText() sorts names byte-wise with two spaces and refuses odd names", () => {
  const text = sha256SumsText([
    { name: "b.qcow2", sha256: B256 },
    { name: "B.ova", sha256: A256 },
    { name: "a-1.vmdk", sha256: A256 },
    { name: "a.qcow2", sha256: B256 },
  ]);
  assert.equal(
    text,
    `${A256}  B.ova\n${A256}  a-1.vmdk\n${B256}  a.qcow2\n${B256}  b.qcow2\n`,
  );
  assert.ok(compareNames("Z", "a") < 0 && compareNames("é", "z") > 0);
  assert.throws(() => sha256SumsText([{ name: "a\nb", sha256: A256 }]), /cannot go in/);
  assert.throws(() => sha256SumsText([{ name: "d/a", sha256: A256 }]), /cannot go in/);
  assert.throws(
    () => sha256SumsText([{ name: "a", sha256: A256 }, { name: "a", sha256: A256 }]),
    /twice/,
  );
});

Deno.test("describeImage() gives the size, SHA-256 and SHA-512 that coreutils compute", async () => {
  const dir = await makeTmp("describe-");
  try {
    const data = new Uint8Array(5 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, Math.min(i + 65536, data.length)));
    }
    await Deno.writeFile(`${dir}/x.vhdx`, data);
    const r = await describeImage(`${dir}/x.vhdx`);
    assert.equal(r.file, "x.vhdx");
    assert.equal(r.format, "vhdx");
    assert.equal(r.size, data.length);
    assert.equal(r.sha256, (await run("sha256sum", [`${dir}/x.vhdx`])).stdout.split(" ")[0]);
    assert.equal(r.sha512, (await run("sha512sum", [`${dir}/x.vhdx`])).stdout.split(" ")[0]);
    assert.equal((await describeImage(`${dir}/x.vhdx`, "raw")).format, "raw");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("writeMetadata() and writeSha256Sums() beside converted images pass sha256sum -c", async () => {
  const dir = await makeTmp("release-");
  try {
    const src = `${dir}/build.qcow2`;
    assert.ok((await run("qemu-img", ["create", "-f", "qcow2", src, "32M"])).ok);
    const rel = `${dir}/release`;
    await Deno.mkdir(rel);
    const images: ImageRecord[] = [];
    for (const [name, format] of [["demo.qcow2", "qcow2"], ["demo.ova", "ova"]] as const) {
      const r = await convertImage(src, `${rel}/${name}`, {
        format,
        ova: { cpus: 1, memoryMiB: 512, os: "demo" },
      });
      assert.ok(!("reason" in r), JSON.stringify(r));
      images.push(await describeImage(r.path));
    }
    const meta = writeMetadata(rel, { ...facts(images), distro: "demo" });
    assert.equal(meta, `${rel}/metadata.json`);
    const sums = await writeSha256Sums(rel, ["demo.qcow2", "demo.ova", "metadata.json"], images);
    assert.equal(sums, `${rel}/SHA256SUMS`);
    const names = [...Deno.readDirSync(rel)].map((e) => e.name).sort();
    assert.deepEqual(names, ["SHA256SUMS", "demo.ova", "demo.qcow2", "metadata.json"]);
    const lines = Deno.readTextFileSync(sums).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.slice(66)), ["demo.ova", "demo.qcow2", "metadata.json"]);
    const check = await run("sha256sum", ["--strict", "-c", "SHA256SUMS"], rel);
    assert.ok(check.ok, check.stdout + check.stderr);
    assert.equal(check.stdout, "demo.ova: OK\ndemo.qcow2: OK\nmetadata.json: OK\n");
    const parsed = JSON.parse(Deno.readTextFileSync(meta));
    assert.equal(parsed.images.find((i: ImageRecord) => i.file === "demo.ova").format, "ova");
    assert.equal(parsed.images[1].size, Deno.statSync(`${rel}/demo.qcow2`).size);
    // A changed image no longer passes.
    await Deno.writeTextFile(`${rel}/demo.qcow2`, "x", { append: true });
    const tampered = await run("sha256sum", ["-c", "SHA256SUMS"], rel);
    assert.equal(tampered.ok, false);
    assert.match(tampered.stdout, /^demo\.qcow2: FAILED$/m);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("writeSha256Sums() hashes files it was not told about and replaces the old list", async () => {
  const dir = await makeTmp("sums-");
  try {
    await Deno.writeTextFile(`${dir}/a.img`, "hello\n");
    await Deno.writeTextFile(`${dir}/SHA256SUMS`, "stale\n");
    await writeSha256Sums(dir, ["a.img"]);
    assert.equal(
      Deno.readTextFileSync(`${dir}/SHA256SUMS`),
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a.img\n",
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["SHA256SUMS", "a.img"]);
    await assert.rejects(writeSha256Sums(dir, ["missing.img"]), Deno.errors.NotFound);
    assert.equal(Deno.readTextFileSync(`${dir}/SHA256SUMS`).includes("a.img"), true, "kept");
  } finally {
    await removeTree(dir);
  }
});
