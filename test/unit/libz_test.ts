import assert from "node:assert/strict";
import { concatBytes, sameBytes } from "../../engine/bytes.ts";
import { gunzip, gzip } from "../../engine/libz.ts";

/** Bytes that compress somewhat, like index text: repeated lines with varying numbers. */
function text(n: number): Uint8Array {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `Package: pkg${i}\nVersion: 1.${i * 7919 % 1000}-1\n\n`;
  return new TextEncoder().encode(s.slice(0, n));
}

/** What the real `gzip -dc` reads from `gz`, or its error. */
async function gzipTool(gz: Uint8Array): Promise<Uint8Array | string> {
  const child = new Deno.Command("gzip", {
    args: ["-dc"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(gz);
  await w.close();
  const r = await child.output();
  return r.success ? r.stdout : new TextDecoder().decode(r.stderr).trim();
}

Deno.test("gzip() writes a member the gzip tool reads back exactly when given any size of input", async () => {
  for (const n of [0, 1, 100, 42_000, 700_000]) {
    const input = text(n);
    const gz = await gzip(input, 6);
    // Header: magic, deflate, no flags, no time, no extra flags, OS Unix (as `gzip -n`).
    assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const back = await gzipTool(gz);
    assert.ok(typeof back !== "string", `gzip -dc of ${n} bytes: ${back}`);
    assert.ok(sameBytes(back, input), `${n} bytes round-trip`);
    assert.ok(sameBytes(await gunzip(gz), input));
  }
});

Deno.test("gzip() members concatenated read as their inputs joined when gzip reads them", async () => {
  const parts = [text(5_000), text(0), text(30_000)];
  const gz = concatBytes(await Promise.all(parts.map((p) => gzip(p, 6))));
  const back = await gzipTool(gz);
  assert.ok(typeof back !== "string", String(back));
  assert.ok(sameBytes(back, concatBytes(parts)));
});

Deno.test("gzip() output is refused by gzip when one byte of its CRC or length changes", async () => {
  const gz = await gzip(text(10_000), 6);
  for (const at of [gz.length - 8, gz.length - 1]) {
    const bad = gz.slice();
    bad[at] ^= 1;
    assert.equal(typeof await gzipTool(bad), "string", `byte ${at} of ${gz.length} flipped`);
  }
});

Deno.test("sameBytes() tells equal from different bytes when lengths or any byte differ", () => {
  const a = text(100_000);
  assert.ok(sameBytes(a, a.slice()));
  assert.ok(sameBytes(new Uint8Array(0), new Uint8Array(0)));
  assert.ok(!sameBytes(a, a.subarray(1)));
  for (const at of [0, 50_000, a.length - 1]) {
    const b = a.slice();
    b[at] ^= 0x80;
    assert.ok(!sameBytes(a, b), `differs at ${at}`);
  }
  // Views into larger buffers compare by their own bytes.
  const big = concatBytes([[9, 9], a, [9]]);
  assert.ok(sameBytes(big.subarray(2, 2 + a.length), a));
});
