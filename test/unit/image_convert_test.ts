import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  convertArgs,
  convertImage,
  type ConvertResult,
  imageInfo,
  populatedBytes,
  qemuImgVersion,
} from "../../image/convert.ts";
import { ovfDescriptor, ovfManifest, xmlEscape } from "../../image/ovf.ts";
import type { Failure } from "../../engine/failure.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const MiB = 1024 * 1024;

async function run(cmd: string, args: string[], input?: string) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const r = await child.output();
  const d = new TextDecoder();
  return { ok: r.success, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

/**
 * A 64 MiB qcow2 holding 3 MiB of random bytes at 0, 1 MiB of text at 8 MiB and nothing else:
 * 4 MiB of data, the rest unallocated.
 */
async function sourceImage(dir: string): Promise<string> {
  const raw = `${dir}/src.raw`;
  const bytes = new Uint8Array(9 * MiB);
  for (let i = 0; i < 3 * MiB; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  bytes.set(
    new TextEncoder().encode("kiln test image line\n".repeat(49933)).subarray(0, MiB),
    8 * MiB,
  );
  await Deno.writeFile(raw, bytes);
  await Deno.truncate(raw, 64 * MiB);
  const src = `${dir}/src.qcow2`;
  const r = await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, src]);
  assert.ok(r.ok, r.stderr);
  await Deno.remove(raw);
  return src;
}

function ok<T extends object>(r: T | Failure): T {
  assert.ok(!("reason" in r), JSON.stringify(r));
  return r as T;
}

async function sameContent(a: string, b: string): Promise<void> {
  const r = await run("qemu-img", ["compare", a, b]);
  assert.ok(r.ok, `qemu-img compare ${a} ${b}: ${r.stdout}${r.stderr}`);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("convertArgs() names the source format and each target's options", () => {
  assert.deepEqual(convertArgs("a", "qcow2", "b", { format: "qcow2" }), [
    "convert",
    "-f",
    "qcow2",
    "-O",
    "qcow2",
    "-c",
    "-o",
    "compression_type=zstd",
    "a",
    "b",
  ]);
  assert.deepEqual(
    convertArgs("a", "raw", "b", { format: "qcow2", compression: "zlib" }).slice(5, 8),
    ["-c", "-o", "compression_type=zlib"],
  );
  assert.deepEqual(convertArgs("a", "raw", "b", { format: "qcow2", compression: "none" }), [
    "convert",
    "-f",
    "raw",
    "-O",
    "qcow2",
    "a",
    "b",
  ]);
  assert.deepEqual(convertArgs("a", "qcow2", "b", { format: "vhdx" }).slice(3), [
    "-O",
    "vhdx",
    "-o",
    "subformat=dynamic",
    "a",
    "b",
  ]);
  assert.deepEqual(convertArgs("a", "qcow2", "b", { format: "vmdk" }).slice(5, 7), [
    "-o",
    "subformat=monolithicSparse",
  ]);
  assert.throws(() => convertArgs("a", "qcow2", "b", { format: "ova" }), /not a qemu-img format/);
});

Deno.test("convertImage() writes zstd-compressed qcow2 by default, same content, smaller", async () => {
  const dir = await makeTmp("convert-zstd-");
  try {
    const src = await sourceImage(dir);
    const r = ok(await convertImage(src, `${dir}/out.qcow2`, { format: "qcow2" }));
    assert.equal(r.path, `${dir}/out.qcow2`);
    assert.equal(r.virtualSize, 64 * MiB);
    assert.equal(r.bytes, Deno.statSync(r.path).size);
    assert.ok(r.seconds > 0);
    const human = await run("qemu-img", ["info", r.path]);
    assert.match(human.stdout, /^\s*compression type: zstd$/m);
    assert.equal(ok(await imageInfo(r.path)).compressionType, "zstd");
    await sameContent(src, r.path);
    // The 1 MiB of text compresses; the 3 MiB of random bytes cannot.
    assert.ok(r.bytes < Deno.statSync(src).size - 512 * 1024, `${r.bytes} bytes`);
    assert.deepEqual(entries(dir), ["out.qcow2", "src.qcow2"], "no temporary files left");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("convertImage() writes zlib or uncompressed qcow2 on request", async () => {
  const dir = await makeTmp("convert-zlib-");
  try {
    const src = await sourceImage(dir);
    const zlib = ok(
      await convertImage(src, `${dir}/z.qcow2`, {
        format: "qcow2",
        compression: "zlib",
      }),
    );
    assert.equal(ok(await imageInfo(zlib.path)).compressionType, "zlib");
    await sameContent(src, zlib.path);
    const plain = ok(
      await convertImage(src, `${dir}/p.qcow2`, {
        format: "qcow2",
        compression: "none",
      }),
    );
    await sameContent(src, plain.path);
    assert.ok(plain.bytes > zlib.bytes, `${plain.bytes} <= ${zlib.bytes}`);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("convertImage() writes vhdx and vmdk that qemu-img opens with the same content", async () => {
  const dir = await makeTmp("convert-vhdx-");
  try {
    const src = await sourceImage(dir);
    const vhdx = ok(await convertImage(src, `${dir}/d.vhdx`, { format: "vhdx" }));
    assert.equal(ok(await imageInfo(vhdx.path)).format, "vhdx");
    await sameContent(src, vhdx.path);
    assert.ok(vhdx.allocatedBytes <= vhdx.bytes + 64 * 1024, "a dynamic vhdx is sparse");
    const vmdk = ok(await convertImage(src, `${dir}/d.vmdk`, { format: "vmdk" }));
    assert.equal(ok(await imageInfo(vmdk.path)).vmdkCreateType, "monolithicSparse");
    await sameContent(src, vmdk.path);
    const stream = ok(
      await convertImage(src, `${dir}/s.vmdk`, {
        format: "vmdk",
        vmdkSubformat: "streamOptimized",
      }),
    );
    assert.equal(ok(await imageInfo(stream.path)).vmdkCreateType, "streamOptimized");
    await sameContent(src, stream.path);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("convertImage() packs an OVA: ovf, vmdk, mf in order, digests and capacities right", async () => {
  const dir = await makeTmp("convert-ova-");
  try {
    const src = await sourceImage(dir);
    const r: ConvertResult = ok(
      await convertImage(src, `${dir}/demo-1.0.ova`, {
        format: "ova",
        ova: { cpus: 2, memoryMiB: 1536, os: "ubuntu" },
      }),
    );
    assert.equal(r.format, "ova");
    // USTAR, members in OVF order.
    const head = Deno.readFileSync(r.path).subarray(257, 263);
    assert.equal(new TextDecoder().decode(head), "ustar\0");
    const list = await run("tar", ["-tf", r.path]);
    assert.deepEqual(list.stdout.trim().split("\n"), [
      "demo-1.0.ovf",
      "demo-1.0.vmdk",
      "demo-1.0.mf",
    ]);
    const x = `${dir}/x`;
    await Deno.mkdir(x);
    assert.ok((await run("tar", ["-xf", r.path, "-C", x])).ok);
    // The manifest's digests are the members' digests.
    const mf = Deno.readTextFileSync(`${x}/demo-1.0.mf`);
    const lines = mf.trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.match(/^SHA256\((.+)\)= [0-9a-f]{64}$/)?.[1]), [
      "demo-1.0.ovf",
      "demo-1.0.vmdk",
    ]);
    for (const l of lines) {
      const [, name, hex] = l.match(/^SHA256\((.+)\)= ([0-9a-f]{64})$/)!;
      assert.equal(hex, sha256(Deno.readFileSync(`${x}/${name}`)), name);
    }
    // The disk is a streamOptimized vmdk with the source's content.
    const vmdk = `${x}/demo-1.0.vmdk`;
    assert.equal(ok(await imageInfo(vmdk)).vmdkCreateType, "streamOptimized");
    await sameContent(src, vmdk);
    // The descriptor is well-formed XML (a real parser) with the right numbers.
    const facts = await ovfFacts(`${x}/demo-1.0.ovf`);
    assert.deepEqual(facts, {
      version: "1.0",
      href: "demo-1.0.vmdk",
      fileSize: String(Deno.statSync(vmdk).size),
      capacity: String(64 * MiB),
      populatedSize: String(4 * MiB),
      fileRef: "file1",
      system: "demo-1.0",
      os: "94",
      cpus: "2",
      memory: "1536",
      hostResource: "ovf:/disk/vmdisk1",
    });
    assert.equal(await populatedBytes(src, "qcow2"), 4 * MiB);
    assert.deepEqual(entries(dir), ["demo-1.0.ova", "src.qcow2", "x"], "no temporary files left");
  } finally {
    await removeTree(dir);
  }
});

/** Reads an OVF with Python's expat-based parser: fails on XML that is not well-formed. */
async function ovfFacts(path: string): Promise<Record<string, string>> {
  const script = `
import json, sys, xml.etree.ElementTree as ET
ovf = "{http://schemas.dmtf.org/ovf/envelope/1}"
rasd = "{http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ovf + "Envelope", root.tag
f = root.find(ovf + "References/" + ovf + "File")
d = root.find(ovf + "DiskSection/" + ovf + "Disk")
vs = root.find(ovf + "VirtualSystem")
items = {i.find(rasd + "ResourceType").text: i for i in vs.iter(ovf + "Item")}
print(json.dumps({
  "version": root.get(ovf + "version"),
  "href": f.get(ovf + "href"), "fileSize": f.get(ovf + "size"),
  "capacity": d.get(ovf + "capacity"), "populatedSize": d.get(ovf + "populatedSize"),
  "fileRef": d.get(ovf + "fileRef"), "system": vs.get(ovf + "id"),
  "os": vs.find(ovf + "OperatingSystemSection").get(ovf + "id"),
  "cpus": items["3"].find(rasd + "VirtualQuantity").text,
  "memory": items["4"].find(rasd + "VirtualQuantity").text,
  "hostResource": items["17"].find(rasd + "HostResource").text,
}))
`;
  const r = await run("python3", ["-c", script, path]);
  assert.ok(r.ok, `python3 could not read the OVF: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

Deno.test("ovfDescriptor() escapes names and keeps rasd elements in schema order", async () => {
  const xml = ovfDescriptor({
    name: `a<b>&"c"`,
    cpus: 1,
    memoryMiB: 512,
    disk: { file: "d&e.vmdk", fileSize: 1, capacity: 2, populatedSize: 0 },
  });
  assert.ok(xml.includes(`<Name>a&lt;b&gt;&amp;&quot;c&quot;</Name>`));
  assert.ok(xml.includes(`ovf:href="d&amp;e.vmdk"`));
  assert.ok(xml.includes(`<OperatingSystemSection ovf:id="101">`), "default OS type");
  for (const itemXml of xml.split("<Item>").slice(1)) {
    const names = [...itemXml.matchAll(/<rasd:(\w+)>/g)].map((m) => m[1]);
    assert.deepEqual(names, [...names].sort(), names.join(","));
  }
  const dir = await makeTmp("ovf-xml-");
  try {
    await Deno.writeTextFile(`${dir}/a.ovf`, xml);
    const facts = await ovfFacts(`${dir}/a.ovf`);
    assert.equal(facts.system, `a<b>&"c"`);
    assert.equal(facts.href, "d&e.vmdk");
  } finally {
    await removeTree(dir);
  }
  assert.throws(
    () =>
      ovfDescriptor({
        name: "x",
        cpus: 0,
        memoryMiB: 1,
        disk: { file: "d", fileSize: 1, capacity: 1, populatedSize: 1 },
      }),
    /cpus/,
  );
  assert.equal(xmlEscape(`'`), "&apos;");
});

Deno.test("ovfManifest() writes one SHA256 line per file in package order", () => {
  const [a, b] = ["a".repeat(64), "b".repeat(64)];
  assert.equal(
    ovfManifest([{ name: "x.ovf", sha256: a }, { name: "x.vmdk", sha256: b }]),
    `SHA256(x.ovf)= ${a}\nSHA256(x.vmdk)= ${b}\n`,
  );
  assert.throws(() => ovfManifest([{ name: "x", sha256: "abc" }]), /bad SHA-256/);
});

Deno.test("convertImage() fails with image-not-found for a missing source", async () => {
  const dir = await makeTmp("convert-missing-");
  try {
    const r = await convertImage(`${dir}/none.qcow2`, `${dir}/out.qcow2`, { format: "qcow2" });
    assert.ok("reason" in r);
    assert.equal(r.reason, "image-not-found");
    assert.equal(r.message, `Image "${dir}/none.qcow2" does not exist: build it first`);
    assert.deepEqual(entries(dir), []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("convertImage() fails with image-convert-failed and leaves nothing when qemu-img fails", async () => {
  const dir = await makeTmp("convert-fail-");
  try {
    const src = await sourceImage(dir);
    // qemu-img cannot create a vhdx over 64 TiB: a real failure after the source was read.
    const big = `${dir}/big.qcow2`;
    assert.ok((await run("qemu-img", ["create", "-f", "qcow2", big, "70T"])).ok);
    const r = await convertImage(big, `${dir}/out.vhdx`, { format: "vhdx" });
    assert.ok("reason" in r, JSON.stringify(r));
    assert.equal(r.reason, "image-convert-failed");
    assert.match(
      r.message,
      /^Converting ".*big\.qcow2" to vhdx failed: .+; check the free disk space$/,
    );
    assert.doesNotMatch(r.message, /\n/);
    assert.deepEqual(entries(dir), ["big.qcow2", "src.qcow2"]);
    // A destination folder that does not exist fails the same way.
    const nowhere = await convertImage(src, `${dir}/no/such/dir.qcow2`, { format: "qcow2" });
    assert.ok("reason" in nowhere && nowhere.reason === "image-convert-failed");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("convertImage() fails with interrupted on abort and removes the partial output", async () => {
  const dir = await makeTmp("convert-abort-");
  try {
    const src = await sourceImage(dir);
    for (const format of ["qcow2", "ova"] as const) {
      const ac = new AbortController();
      ac.abort();
      const r = await convertImage(src, `${dir}/out.${format}`, {
        format,
        ova: { cpus: 1, memoryMiB: 512 },
        signal: ac.signal,
      });
      assert.ok("reason" in r, JSON.stringify(r));
      assert.equal(r.reason, "interrupted");
      assert.equal(r.message, `Converting "${src}" to ${format} was interrupted`);
      assert.deepEqual(entries(dir), ["src.qcow2"]);
    }
  } finally {
    await removeTree(dir);
  }
});

Deno.test("qemuImgVersion() reads the installed qemu-img's version", async () => {
  const r = await run("qemu-img", ["--version"]);
  const v = await qemuImgVersion();
  assert.equal(typeof v, "string", JSON.stringify(v));
  assert.match(v as string, /^\d+\.\d+(\.\d+)?$/);
  assert.ok(r.stdout.startsWith(`qemu-img version ${v}`), r.stdout);
  const missing = await qemuImgVersion("/nonexistent/qemu-img");
  assert.ok(typeof missing === "object" && missing.reason === "tool-missing");
});
