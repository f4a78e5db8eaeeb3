import assert from "node:assert/strict";
import { crc32, joinXzBlocks, splitXzBlocks, xzCompressChunks } from "../../apt/xz_blocks.ts";
import { liblzmaBlock, liblzmaBlocks, toolHeader } from "../../apt/xz_ffi.ts";
import { loadLiblzma } from "../../engine/liblzma.ts";

const enc = new TextEncoder();

async function unxz(bytes: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("xz", {
    args: ["-dc"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  const [out] = await Promise.all([child.output(), w.write(bytes).then(() => w.close())]);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return out.stdout;
}

function text(n: number, seed: string): Uint8Array {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `Package: ${seed}${i}\nVersion: 1.${i}\n\n`;
  return enc.encode(s.slice(0, n));
}

Deno.test("crc32() matches the IEEE check value", () => {
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("xzCompressChunks() makes one block per chunk, the same alone or in company", async () => {
  const a = text(40_000, "a"), b = text(30_000, "b"), c = text(10, "c");
  const together = await xzCompressChunks([a, b, c]);
  assert.ok(!("reason" in together));
  assert.deepEqual(together.map((x) => x.uncompressed), [a.length, b.length, c.length]);
  const alone = await xzCompressChunks([b]);
  assert.ok(!("reason" in alone));
  assert.deepEqual(alone[0].bytes, together[1].bytes);
  assert.equal(alone[0].unpadded, together[1].unpadded);
});

Deno.test("joinXzBlocks() makes a stream xz decodes to the chunks in order", async () => {
  const chunks = [text(5000, "x"), text(70_000, "y"), text(1, "z")];
  const blocks = await xzCompressChunks(chunks);
  assert.ok(!("reason" in blocks));
  const reordered = [blocks[2], blocks[0], blocks[1]];
  const joined = joinXzBlocks(reordered);
  const want = new Uint8Array([...chunks[2], ...chunks[0], ...chunks[1]]);
  assert.deepEqual(await unxz(joined), want);
  // And it splits back into the same blocks.
  assert.deepEqual(splitXzBlocks(joined).map((b) => b.bytes), reordered.map((b) => b.bytes));
});

Deno.test("joinXzBlocks() of no blocks is the empty stream xz writes", async () => {
  const empty = joinXzBlocks([]);
  assert.deepEqual(await unxz(empty), new Uint8Array(0));
  const r = await new Deno.Command("xz", { args: ["-c"], stdin: "null", stdout: "piped" }).output();
  assert.deepEqual(empty, r.stdout);
});

Deno.test("splitXzBlocks() refuses what is not a single xz stream", () => {
  assert.throws(() => splitXzBlocks(enc.encode("definitely not xz, but long enough to parse")));
});

Deno.test("xzCompressChunks() fails with tool-missing when the xz tool is absent", async () => {
  const r = await xzCompressChunks([text(10, "q")], "/nonexistent/xz");
  assert.ok("reason" in r);
  assert.equal(r.reason, "tool-missing");
  assert.match(r.message, /install xz-utils/);
});

Deno.test("liblzmaBlock() makes the very bytes of the xz tool's block, which xz decodes", async () => {
  const lzma = loadLiblzma();
  assert.ok(lzma, "liblzma.so.5 loads here (Debian's liblzma5, which xz-utils needs)");
  const chunks = [text(45_000, "p"), text(3, "q"), text(200_000, "r"), new Uint8Array(0)];
  const ours = await liblzmaBlocks(lzma, chunks);
  const tool = await xzCompressChunks(chunks.slice(0, 3));
  assert.ok(!("reason" in tool));
  for (const [i, t] of tool.entries()) {
    assert.deepEqual(ours[i].bytes, t.bytes, `chunk ${i}`);
    assert.equal(ours[i].unpadded, t.unpadded);
    assert.equal(ours[i].uncompressed, chunks[i].length);
  }
  const joined = joinXzBlocks(ours);
  assert.deepEqual(await unxz(joined), new Uint8Array([...chunks[0], ...chunks[1], ...chunks[2]]));
  assert.deepEqual(splitXzBlocks(joined).map((b) => b.unpadded), ours.map((b) => b.unpadded));
  assert.deepEqual((await liblzmaBlock(lzma, chunks[2])).bytes, ours[2].bytes, "deterministic");
});

Deno.test("toolHeader() drops the size fields, pads to four and checks with CRC32", () => {
  // Flags 0xc0 (both sizes, one filter), sizes 0x80 0x01 and 0x05, LZMA2 with property 0x10.
  const body = [0xc0, 0x80, 0x01, 0x05, 0x21, 0x01, 0x10];
  const h = new Uint8Array(12);
  h[0] = 2;
  h.set(body, 1);
  new DataView(h.buffer).setUint32(8, crc32(h.subarray(0, 8)), true);
  const out = toolHeader(h);
  assert.equal(out.length, 12, "size byte, flags, three filter bytes, padding, CRC32");
  assert.deepEqual([...out.subarray(0, 8)], [2, 0x00, 0x21, 0x01, 0x10, 0, 0, 0]);
  assert.equal(new DataView(out.buffer).getUint32(8, true), crc32(out.subarray(0, 8)));
});
