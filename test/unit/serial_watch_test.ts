import assert from "node:assert/strict";
import { cleanSerialText, SerialWatcher } from "../../image/serial_watch.ts";

const enc = new TextEncoder();

Deno.test("cleanSerialText() strips ANSI sequences, carriage returns and control characters", () => {
  const raw =
    "\x1b[2J\x1b[01;01H\x1b[=3h\x1b]0;title\x07\x1b(BSeaBIOS\x1b[0m\r\nboot:\x07 ok\ttab\r\n";
  assert.equal(cleanSerialText(raw), "SeaBIOS\nboot: ok\ttab\n");
});

Deno.test("SerialWatcher.push() finds a marker split across chunks", () => {
  const w = new SerialWatcher(/KILN-INSTALL-OK (\S+)\n/);
  assert.equal(w.push("[    2.1] Run /init as init process\r\nKILN-INS"), null);
  assert.equal(w.push("TALL-OK bui"), null);
  const m = w.push("ld-7\r\n[    2.4] reboot: Power down\r\n");
  assert.equal(m?.[1], "build-7");
  assert.equal(w.match?.[1], "build-7", "the match stays found");
});

Deno.test("SerialWatcher.push() finds a marker delivered one byte at a time", () => {
  const w = new SerialWatcher(/^KILN-READBACK hello$/m);
  const bytes = enc.encode("noise\r\nKILN-READBACK hello\r\nmore\r\n");
  const found: number[] = [];
  bytes.forEach((b, i) => {
    if (w.push(new Uint8Array([b])) && found.length === 0) found.push(i);
  });
  // Found on the newline that completes the marker's line, not earlier.
  assert.deepEqual(found, [bytes.indexOf(10, 7)]);
  assert.equal(w.bytes, bytes.length);
});

Deno.test("SerialWatcher.push() ignores an escape sequence split inside the marker", () => {
  const w = new SerialWatcher(/KILN-PROBE-OK\n/);
  assert.equal(w.push("KILN-\x1b[1"), null);
  assert.equal(w.push(";32mPRO\x1b"), null);
  assert.ok(w.push("[0mBE-OK\r\n"));
});

Deno.test("SerialWatcher.push() decodes a UTF-8 character split across chunks", () => {
  const w = new SerialWatcher(/état: prêt\n/);
  const bytes = enc.encode("état: prêt\n");
  assert.equal(w.push(bytes.subarray(0, 1)), null); // the first byte of "é"
  assert.ok(w.push(bytes.subarray(1)));
});

Deno.test("SerialWatcher.push() does not match an unfinished line that idle() then matches", () => {
  const w = new SerialWatcher(/KILN-READBACK (\S+)/);
  assert.equal(w.push("KILN-READBACK ab"), null, "the value may still be printing");
  assert.equal(w.push("c"), null);
  assert.equal(w.idle()?.[1], "abc", "quiet console: the prompt-like line counts");
});

Deno.test("SerialWatcher.idle() finds a login prompt that has no newline", () => {
  const w = new SerialWatcher(/\blogin: $/);
  w.push("\r\nDebian GNU/Linux 12 host ttyS0\r\n\r\nhost login: ");
  assert.equal(w.match, null);
  assert.ok(w.idle());
});

Deno.test("SerialWatcher.end() finds a marker in the last line without a newline", () => {
  const w = new SerialWatcher(/KILN-PROBE-OK/);
  w.push("KILN-PROBE-");
  assert.equal(w.push("OK"), null);
  assert.ok(w.end());
});

Deno.test("SerialWatcher.push() never matches when the marker is absent", () => {
  const w = new SerialWatcher(/KILN-READBACK expected\n/);
  for (let i = 0; i < 2000; i++) w.push(`[ ${i}] KILN-READBACK other line ${i}\r\n`);
  assert.equal(w.idle(), null);
  assert.equal(w.end(), null);
  assert.deepEqual(w.lastLines(2), [
    "[ 1998] KILN-READBACK other line 1998",
    "[ 1999] KILN-READBACK other line 1999",
  ]);
});

Deno.test("SerialWatcher.push() finds a marker after more output than its window", () => {
  const w = new SerialWatcher(/^DONE$/m, { window: 256 });
  for (let i = 0; i < 100; i++) assert.equal(w.push(`${"x".repeat(100)}\n`), null);
  assert.ok(w.push("DONE\n"));
});

Deno.test("SerialWatcher ignores the g and y flags of the marker between calls", () => {
  const w = new SerialWatcher(/OK\n/gy);
  w.push("first line\n");
  assert.ok(w.push("OK\n"));
});

Deno.test("SerialWatcher.lastLines() returns the cleaned tail with the unfinished line", () => {
  const w = new SerialWatcher(/never/, { keepLines: 3 });
  w.push("a\r\nb\r\n\x1b[1mc\x1b[0m\r\nd\r\nhalf");
  assert.deepEqual(w.lastLines(), ["c", "d", "half"]);
  assert.deepEqual(w.lastLines(2), ["d", "half"]);
});
