import assert from "node:assert/strict";
import { arArchive } from "../../deb/ar.ts";
import { compress, compressBytes, type CompressOptions } from "../../deb/compress.ts";
import { sortEntries, tarBytes, type TarEntry, TarSizeMismatch, tarStream } from "../../deb/tar.ts";
import type { Failure } from "../../engine/failure.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const EPOCH = 1700000000;
const enc = new TextEncoder();

/** Runs a real tool; returns its stdout, failing the test on a non-zero exit. */
async function run(cmd: string, args: string[], opts: { cwd?: string; stdin?: Uint8Array } = {}) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: { TZ: "UTC", LC_ALL: "C" },
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Written while the output is read: a tool blocks on a full stdout pipe otherwise.
  const writing = opts.stdin
    ? (async () => {
      const w = child.stdin.getWriter();
      await w.write(opts.stdin);
      await w.close();
    })()
    : Promise.resolve();
  const out = await child.output();
  await writing;
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Some bytes that compress but are not trivial. */
function sample(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 7;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = i % 3 === 0 ? x >> 16 : 97 + (i % 26);
  }
  return b;
}

async function* chunks(data: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

Deno.test("arArchive() writes members that ar lists and extracts, odd sizes padded", async () => {
  const dir = await makeTmp("deb-ar-");
  try {
    const a = arArchive([
      { name: "debian-binary", data: enc.encode("2.0\n") },
      { name: "odd", data: enc.encode("abc") },
      { name: "even", data: enc.encode("wxyz") },
    ], EPOCH);
    assert.equal(text(a.subarray(0, 8)), "!<arch>\n");
    assert.equal(a.length, 8 + (60 + 4) + (60 + 3 + 1) + (60 + 4));
    Deno.writeFileSync(`${dir}/x.a`, a);
    assert.equal(text(await run("ar", ["t", `${dir}/x.a`])), "debian-binary\nodd\neven\n");
    assert.equal(text(await run("ar", ["p", `${dir}/x.a`, "odd"])), "abc");
    assert.equal(text(await run("ar", ["p", `${dir}/x.a`, "even"])), "wxyz");
    const listing = text(await run("ar", ["tv", `${dir}/x.a`]));
    assert.match(listing, /^rw-r--r-- 0\/0 +4 Nov 14 22:13 2023 debian-binary$/m);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("tarStream() writes sorted root-owned entries that GNU tar lists and extracts", async () => {
  const dir = await makeTmp("deb-tar-");
  try {
    const long = `${"d".repeat(70)}/${"e".repeat(70)}/file-${"f".repeat(40)}.txt`;
    const target = `../${"t".repeat(120)}`;
    const body = sample(5000);
    const entries: TarEntry[] = [
      { type: "file", path: "usr/bin/tool", mode: 0o755, size: 3, content: enc.encode("hi\n") },
      { type: "dir", path: "usr", mode: 0o755 },
      { type: "dir", path: "", mode: 0o755 },
      { type: "dir", path: "usr/bin", mode: 0o755 },
      { type: "symlink", path: "usr/bin/link", target: "tool" },
      { type: "symlink", path: "usr/bin/far", target },
      { type: "file", path: long, mode: 0o644, size: body.length, content: () => chunks(body) },
    ];
    const tar = await tarBytes(entries, EPOCH);
    assert.equal(tar.length % 512, 0);
    Deno.writeFileSync(`${dir}/x.tar`, tar);
    const listing = text(await run("tar", ["-tvf", `${dir}/x.tar`, "--full-time"])).split("\n");
    assert.deepEqual(listing.slice(0, 6), [
      "drwxr-xr-x root/root         0 2023-11-14 22:13:20 ./",
      `-rw-r--r-- root/root      5000 2023-11-14 22:13:20 ./${long}`,
      "drwxr-xr-x root/root         0 2023-11-14 22:13:20 ./usr/",
      "drwxr-xr-x root/root         0 2023-11-14 22:13:20 ./usr/bin/",
      `lrwxrwxrwx root/root         0 2023-11-14 22:13:20 ./usr/bin/far -> ${target}`,
      "lrwxrwxrwx root/root         0 2023-11-14 22:13:20 ./usr/bin/link -> tool",
    ]);
    assert.equal(listing[6], "-rwxr-xr-x root/root         3 2023-11-14 22:13:20 ./usr/bin/tool");
    const numeric = text(await run("tar", ["-tvf", `${dir}/x.tar`, "--numeric-owner"]));
    assert.match(numeric, /^-rwxr-xr-x 0\/0 +3 .* \.\/usr\/bin\/tool$/m);
    await Deno.mkdir(`${dir}/x`);
    await run("tar", ["-xf", `${dir}/x.tar`, "-C", `${dir}/x`]);
    assert.deepEqual(Deno.readFileSync(`${dir}/x/${long}`), body);
    assert.equal(Deno.readLinkSync(`${dir}/x/usr/bin/far`), target);
    assert.equal(Deno.statSync(`${dir}/x/usr/bin/tool`).mode! & 0o777, 0o755);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("tarBytes() gives the same bytes whatever the order of the entries", async () => {
  const entries: TarEntry[] = [
    { type: "dir", path: "", mode: 0o755 },
    { type: "dir", path: "a", mode: 0o755 },
    { type: "file", path: "a/x", mode: 0o644, size: 1, content: enc.encode("x") },
    { type: "file", path: "a-b", mode: 0o644, size: 1, content: enc.encode("y") },
  ];
  const one = await tarBytes(entries, EPOCH);
  const two = await tarBytes([...entries].reverse(), EPOCH);
  assert.deepEqual(one, two);
  assert.notDeepEqual(await tarBytes(entries, EPOCH + 1), one, "the mtime is in the headers");
  assert.deepEqual(sortEntries(entries).map((e) => e.path), ["", "a-b", "a", "a/x"]);
});

Deno.test("sortEntries() throws on two entries with one name", () => {
  assert.throws(
    () =>
      sortEntries([
        { type: "dir", path: "a", mode: 0o755 },
        { type: "dir", path: "a", mode: 0o700 },
      ]),
    /duplicate tar entry \.\/a\//,
  );
});

Deno.test("tarStream() throws TarSizeMismatch when a file streams other than its size", async () => {
  for (const size of [3, 5]) {
    const entries: TarEntry[] = [{
      type: "file",
      path: "f",
      mode: 0o644,
      size,
      content: () => chunks(enc.encode("abcd")),
    }];
    await assert.rejects(async () => {
      for await (const _ of tarStream(entries, EPOCH)) { /* drain */ }
    }, (e) => e instanceof TarSizeMismatch && e.expected === size && e.path === "f");
  }
});

Deno.test("compress() gz gives gzip -d the input back, with no timestamp and a Unix header", async () => {
  const data = sample(300_000);
  const gz = await compressBytes("gz", data) as Uint8Array;
  assert.deepEqual(await run("gzip", ["-dc"], { stdin: gz }), data);
  assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
  assert.deepEqual(await compressBytes("gz", data), gz, "same bytes twice");
});

for (const xz of ["native", "tool"] as const) {
  Deno.test(`compress() xz with the ${xz} backend gives xz -d the input back, the same twice`, async () => {
    const data = sample(300_000);
    const opts: CompressOptions = { xz };
    const parts: Uint8Array[] = [];
    const bad = await compress("xz", chunks(data), (c) => {
      parts.push(c.slice());
      return Promise.resolve();
    }, opts);
    assert.equal(bad, null);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    assert.ok(out.length < data.length / 2, "it compresses");
    assert.deepEqual(await run("xz", ["-dc"], { stdin: out }), data);
    assert.deepEqual(await compressBytes("xz", data, opts), out, "same bytes twice");
  });
}

Deno.test("compress() xz fails with tool-missing when the xz tool is not there", async () => {
  const r = await compressBytes("xz", enc.encode("x"), {
    xz: "tool",
    xzTool: "/nonexistent/xz",
  }) as Failure;
  assert.deepEqual(r, {
    reason: "tool-missing",
    message: "xz compression needs the xz tool; install it or use compression: gz",
  });
});

Deno.test("compress() passes on an error of its source", async () => {
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield enc.encode("start");
    throw new Error("source vanished");
  }
  for (const [kind, xz] of [["gz", "auto"], ["xz", "native"], ["xz", "tool"]] as const) {
    await assert.rejects(
      () => compress(kind, broken(), () => Promise.resolve(), { xz }),
      /source vanished/,
      `${kind} ${xz}`,
    );
  }
});
