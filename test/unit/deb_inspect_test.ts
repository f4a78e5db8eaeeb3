import assert from "node:assert/strict";
import { resolve } from "node:path";
import {
  controlMember,
  ControlReader,
  DEB_INVALID,
  fieldValue,
  inspectDeb,
  inspectDebBytes,
  parseDeb822,
  type Stanza,
} from "../../deb/inspect.ts";
import { buildDeb } from "../rig/dpkg_deb.ts";

const TMP = resolve("test/.tmp");

async function withDir(fn: (dir: string) => Promise<void>) {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "deb-inspect-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** What `dpkg-deb --field` says, as name/value pairs in its order. */
async function dpkgFields(deb: string): Promise<Stanza> {
  const r = await new Deno.Command("dpkg-deb", { args: ["--field", deb] }).output();
  assert.ok(r.success);
  const parsed = parseDeb822(new TextDecoder().decode(r.stdout));
  assert.ok(!("reason" in parsed));
  return parsed[0];
}

for (const compression of ["xz", "gzip", "zstd", "none"] as const) {
  Deno.test(`inspectDebBytes() reads the control stanza as dpkg-deb does when -Z${compression}`, async () => {
    await withDir(async (dir) => {
      const deb = await buildDeb(dir, {
        pkg: "hello",
        version: "1:2.0-1",
        arch: "amd64",
        depends: "libc6 (>= 2.36), hello-data (= 2.0-1)",
        source: "hello-src (2.0-1)",
        compression,
      });
      const c = await inspectDebBytes(Deno.readFileSync(deb), deb);
      assert.ok(!("reason" in c), "reason" in c ? c.message : "");
      assert.deepEqual(c.fields, await dpkgFields(deb));
      assert.equal(
        c.controlCompression,
        { xz: "xz", gzip: "gz", zstd: "zst", none: "none" }[compression],
      );
      assert.equal(fieldValue(c.fields, "version"), "1:2.0-1");
      assert.equal(
        fieldValue(c.fields, "Description"),
        "hello for kiln's tests\n A package kiln's tests build.\n .\n Second paragraph.",
      );
    });
  });
}

Deno.test("inspectDeb() reads a large package from its head alone", async () => {
  await withDir(async (dir) => {
    const big = crypto.getRandomValues(new Uint8Array(65536));
    const blob = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += big.length) blob.set(big, i);
    const deb = await buildDeb(dir, {
      pkg: "big",
      version: "1.0",
      arch: "all",
      compression: "gzip",
      files: { "usr/share/big/blob": blob },
    });
    const c = await inspectDeb(deb);
    assert.ok(!("reason" in c), "reason" in c ? c.message : "");
    assert.equal(fieldValue(c.fields, "Package"), "big");
    // The head alone is enough: cut the file after its control member.
    const bytes = Deno.readFileSync(deb);
    const cut = await inspectDebBytes(bytes.subarray(0, 4096), deb);
    assert.ok(!("reason" in cut), "reason" in cut ? cut.message : "");
  });
});

Deno.test("inspectDebBytes() fails with deb-invalid when the bytes are not a .deb", async () => {
  await withDir(async (dir) => {
    const deb = Deno.readFileSync(await buildDeb(dir, { pkg: "x", version: "1", arch: "all" }));
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode("hello world, not an archive"), /not an ar archive/],
      [deb.subarray(0, 200), /truncated|ends inside/],
      [new TextEncoder().encode("!<arch>\n"), /first ar member is not debian-binary/],
    ];
    // A control member that is not xz at all.
    const broken = deb.slice();
    const at = new TextDecoder("latin1").decode(broken).indexOf("control.tar.xz") + 60;
    broken.fill(0x41, at, at + 40);
    cases.push([broken, /does not decompress/]);
    for (const [bytes, why] of cases) {
      const r = await inspectDebBytes(bytes, "bad.deb");
      assert.ok("reason" in r, `accepted: ${why}`);
      assert.equal(r.reason, DEB_INVALID);
      assert.match(r.message, why);
      assert.match(r.message, /^"bad\.deb" is not a valid \.deb: /);
    }
  });
});

Deno.test("inspectDeb() fails with deb-invalid when the file cannot be read", async () => {
  const r = await inspectDeb("test/.tmp/no-such-file.deb");
  assert.ok("reason" in r);
  assert.equal(r.reason, DEB_INVALID);
  assert.match(r.message, /Cannot read "test\/\.tmp\/no-such-file\.deb"/);
});

Deno.test("parseDeb822() keeps field order, continuation lines and several stanzas", () => {
  const text = "Package: a\nDescription: short\n long\n .\n more\n\n\n# comment\nPackage: b\n" +
    "Conffiles:\n /etc/b.conf 0123\r\nVersion:1\n";
  const s = parseDeb822(text);
  assert.ok(!("reason" in s));
  assert.deepEqual(s, [
    [["Package", "a"], ["Description", "short\n long\n .\n more"]],
    [["Package", "b"], ["Conffiles", "\n /etc/b.conf 0123"], ["Version", "1"]],
  ]);
});

Deno.test("parseDeb822() fails on a line that is neither a field nor a continuation", () => {
  for (const text of ["Package: a\nnot a field\n", " leading continuation\n"]) {
    const r = parseDeb822(text);
    assert.ok("reason" in r);
    assert.equal(r.reason, DEB_INVALID);
    assert.match(r.message, /^Line \d+ /);
  }
});

Deno.test("inspectDebBytes() gives the same fields for every deb of a batch (xz decoder reuse)", async () => {
  await withDir(async (dir) => {
    const debs = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => buildDeb(dir, { pkg: `p${i}`, version: `1.${i}`, arch: "amd64" }),
      ),
    );
    for (const [i, deb] of debs.entries()) {
      const c = await inspectDebBytes(Deno.readFileSync(deb), deb);
      assert.ok(!("reason" in c));
      assert.equal(fieldValue(c.fields, "Package"), `p${i}`);
      assert.equal(fieldValue(c.fields, "Version"), `1.${i}`);
    }
  });
});

Deno.test("ControlReader.finish() reads every member of several xz batches and names the one that is corrupt", async () => {
  await withDir(async (dir) => {
    const debs = await Promise.all(
      Array.from(
        { length: 3 },
        (_, i) => buildDeb(dir, { pkg: `p${i}`, version: `1.${i}`, arch: "amd64" }),
      ),
    );
    const members = debs.map((deb) => {
      const m = controlMember(Deno.readFileSync(deb), deb);
      assert.ok(!("reason" in m) && m.kind === "xz");
      return m;
    });
    const reader = new ControlReader({ tmpDir: dir });
    const bad = 200; // in a later batch than the first
    for (let i = 0; i < 300; i++) {
      const m = members[i % 3];
      if (i !== bad) reader.add({ ...m, name: `deb${i}` });
      else {
        const data = m.data.slice();
        data.fill(0x41, 40, 80); // inside the compressed block
        reader.add({ ...m, name: `deb${i}`, data });
      }
    }
    const out = await reader.finish();
    assert.equal(out.length, 300);
    for (const [i, c] of out.entries()) {
      if (i === bad) {
        assert.ok("reason" in c);
        assert.match(
          c.message,
          /^"deb200" is not a valid \.deb: its control\.tar\.xz does not decompress/,
        );
        continue;
      }
      assert.ok(!("reason" in c), `deb${i}`);
      assert.equal(fieldValue(c.fields, "Package"), `p${i % 3}`);
      assert.equal(fieldValue(c.fields, "Version"), `1.${i % 3}`);
    }
  });
});
