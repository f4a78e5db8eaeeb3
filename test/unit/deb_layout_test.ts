import assert from "node:assert/strict";
import { type Layout, layout } from "../../deb/layout.ts";
import { debSpec, type DebSpecInput } from "../../deb/spec.ts";
import { type TarEntry, TarSizeMismatch, tarStream } from "../../deb/tar.ts";
import type { Failure } from "../../engine/failure.ts";
import { makeTmp, removeTree, writeFiles } from "../rig/workspace.ts";

const BASE: DebSpecInput = {
  name: "demo-pkg",
  version: "1.0-1",
  architecture: "all",
  maintainer: "Kiln Authors <kiln@kiln-build.org>",
  description: "Demonstration package for layout tests\nLays things out.",
  copyright: { holder: "The kiln authors", license: "MIT" },
};

async function laidOut(root: string, input: Partial<DebSpecInput>): Promise<Layout | Failure> {
  const spec = debSpec({ ...BASE, ...input }, { root });
  if ("reason" in spec) throw new Error(spec.message);
  return await layout(spec, 1700000000);
}

function byPath(l: Layout): Map<string, TarEntry> {
  return new Map(l.entries.map((e) => [e.path, e]));
}

Deno.test("layout() copies folders whole, adds every parent folder and normalizes modes", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    writeFiles(dir, { "tree/a.sh": "#!/bin/sh\n", "tree/sub/b.txt": "b", "one.txt": "1" });
    Deno.chmodSync(`${dir}/tree/a.sh`, 0o700);
    Deno.chmodSync(`${dir}/one.txt`, 0o600);
    Deno.symlinkSync("sub/b.txt", `${dir}/tree/link`);
    const l = await laidOut(dir, {
      files: [
        { src: "tree", dest: "/opt/demo/" },
        { src: "one.txt", dest: "/opt/other/renamed.txt" },
        { src: "one.txt", dest: "/opt/other/", mode: "0640" },
      ],
    }) as Layout;
    const e = byPath(l);
    assert.deepEqual([...e.keys()].sort(), [
      "",
      "opt",
      "opt/demo",
      "opt/demo/a.sh",
      "opt/demo/link",
      "opt/demo/sub",
      "opt/demo/sub/b.txt",
      "opt/other",
      "opt/other/one.txt",
      "opt/other/renamed.txt",
      "usr",
      "usr/share",
      "usr/share/doc",
      "usr/share/doc/demo-pkg",
      "usr/share/doc/demo-pkg/changelog.Debian.gz",
      "usr/share/doc/demo-pkg/copyright",
    ]);
    const mode = (p: string) => (e.get(p) as { mode: number }).mode;
    assert.equal(mode("opt/demo/a.sh"), 0o755, "any execute bit gives 0755");
    assert.equal(mode("opt/other/renamed.txt"), 0o644);
    assert.equal(mode("opt/other/one.txt"), 0o640, "the spec's mode wins");
    assert.equal(mode("opt/demo/sub"), 0o755);
    assert.deepEqual(e.get("opt/demo/link"), {
      type: "symlink",
      path: "opt/demo/link",
      target: "sub/b.txt",
    });
    assert.deepEqual(l.conffiles, []);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("layout() marks every file under /etc a conffile and keeps the user's doc files", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    writeFiles(dir, { "etc/a.conf": "a", "etc/deep/b.conf": "b", "COPYRIGHT": "mine" });
    const l = await laidOut(dir, {
      files: [
        { src: "etc", dest: "/etc/demo" },
        { src: "COPYRIGHT", dest: "/usr/share/doc/demo-pkg/copyright" },
      ],
      conffiles: ["/etc/demo/a.conf"],
    }) as Layout;
    assert.deepEqual(l.conffiles, ["/etc/demo/a.conf", "/etc/demo/deep/b.conf"]);
    const copyright = byPath(l).get("usr/share/doc/demo-pkg/copyright") as { size: number };
    assert.equal(copyright.size, 4, "the shipped copyright, not a generated one");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("layout() fails when a file would be a parent folder of another", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    writeFiles(dir, { "x": "x" });
    const r = await laidOut(dir, {
      files: [{ src: "x", dest: "/opt/x" }, { src: "x", dest: "/opt/x/y" }],
    }) as Failure;
    assert.equal(r.reason, "deb-file-conflict");
    assert.match(r.message, /"\/opt\/x" is a file but "\/opt\/x\/y" needs it to be a folder/);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("layout() fails for a license without known text and a missing license_file", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    const unknown = await laidOut(dir, { copyright: { holder: "Me", license: "Zlib" } }) as Failure;
    assert.equal(unknown.reason, "deb-spec-invalid");
    assert.match(unknown.message, /key "copyright.license_file" is missing: license "Zlib"/);
    const missing = await laidOut(dir, {
      copyright: { holder: "Me", license: "Zlib", license_file: "LICENSE" },
    }) as Failure;
    assert.equal(missing.reason, "deb-source-missing");
    assert.match(
      missing.message,
      /key "copyright.license_file" names "LICENSE", which does not exist/,
    );
  } finally {
    await removeTree(dir);
  }
});

Deno.test("layout() entries report a file deleted before it is packed as a size mismatch", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    writeFiles(dir, { "gone.txt": "soon gone" });
    const l = await laidOut(dir, { files: [{ src: "gone.txt", dest: "/opt/gone.txt" }] }) as Layout;
    Deno.removeSync(`${dir}/gone.txt`);
    await assert.rejects(async () => {
      for await (const _ of tarStream(l.entries, 0)) { /* drain */ }
    }, (e) => e instanceof TarSizeMismatch && e.path === "opt/gone.txt" && e.actual === 0);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("layout() ships copyright.file as is and gzips the spec's changelog", async () => {
  const dir = await makeTmp("deb-layout-");
  try {
    const changelog = "demo-pkg (1.0-1) unstable; urgency=low\n\n  * Hand written.\n\n" +
      " -- Kiln Authors <kiln@kiln-build.org>  Tue, 14 Nov 2023 22:13:20 +0000\n";
    writeFiles(dir, {
      "debian/copyright": "Hand-written copyright\n",
      "debian/changelog": changelog,
    });
    const l = await laidOut(dir, {
      copyright: { file: "debian/copyright" },
      changelog: "debian/changelog",
    }) as Layout;
    const e = byPath(l);
    const copyright = e.get("usr/share/doc/demo-pkg/copyright") as { content: Uint8Array };
    assert.equal(new TextDecoder().decode(copyright.content), "Hand-written copyright\n");
    const gz = e.get("usr/share/doc/demo-pkg/changelog.Debian.gz") as { content: Uint8Array };
    const { gunzipSync } = await import("node:zlib");
    assert.equal(new TextDecoder().decode(gunzipSync(gz.content)), changelog);
  } finally {
    await removeTree(dir);
  }
});
