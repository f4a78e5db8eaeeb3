import assert from "node:assert/strict";
import { encodeInline } from "../../engine/inline.ts";
import type { ActionEntry } from "../../engine/store.ts";
import {
  assembleEntry,
  EMPTY_SHA256,
  encodeEntry,
  ENTRY_PATH,
  type EntryRef,
  readActionResult,
} from "../../remote/action_result.ts";
import { bazelRemoteRoundTrip } from "../rig/reapi.ts";
import { sha256 } from "../rig/workspace.ts";

const SECRET = "test-secret-0123456789abcdef";
const KEY = sha256("the task's fingerprint");
const small = new TextEncoder().encode("HELLO\n");
const BIG = { path: "out/disk.img", digest: sha256("big"), size: 5_000_000, mode: 0o644 };
const LOG = sha256("log text");

/** An entry with every kind of output: inline, blob, executable, empty, folder, symlink, log. */
const ENTRY: ActionEntry = {
  v: 1,
  key: KEY,
  task: "image:demo",
  outputs: {
    files: [
      { path: "out/bin/tool", digest: sha256("#!/bin/sh\n"), size: 10, mode: 0o755 },
      BIG,
      { path: "out/empty", digest: EMPTY_SHA256, size: 0, mode: 0o644 },
      { path: "out/up.txt", digest: sha256(small), size: small.length, mode: 0o644 },
    ],
    dirs: ["out", "out/bin", "out/void"],
    symlinks: [{ path: "out/latest", target: "disk.img" }],
  },
  log: LOG,
  inline: {
    "out/bin/tool": encodeInline(new TextEncoder().encode("#!/bin/sh\n")),
    "out/empty": "",
    "out/up.txt": encodeInline(small),
  },
  durationMs: 1234,
  createdAt: "2025-03-01T12:00:00.000Z",
};

const isFailure = (v: unknown): v is { reason: string; message: string } =>
  typeof v === "object" && v !== null && "reason" in v && "message" in v;

async function decode(json: string, blob: Uint8Array, key = KEY, secret = SECRET) {
  const ref = await readActionResult(json, key, secret);
  if (isFailure(ref)) return ref;
  return assembleEntry(ref, blob, key);
}

Deno.test("encodeEntry() then readActionResult() and assembleEntry() give back the entry, inline outputs included", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  assert.equal(enc.entryDigest, sha256(enc.entryBlob));
  assert.deepEqual(
    [...enc.blobs].sort(),
    [[BIG.digest, BIG.size], [EMPTY_SHA256, 0], [LOG, 8]].sort(),
    "blobs: the large file, the empty file and the log; inline outputs travel in the entry",
  );
  assert.deepEqual(await decode(enc.json, enc.entryBlob), ENTRY);
});

Deno.test("encodeEntry() writes an ActionResult that REAPI's protobuf schema parses strictly, as bazel-remote does, and its re-encoding decodes to the same entry", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const served = await bazelRemoteRoundTrip(enc.json);
  assert.ok(served.ok, `rejected: ${!served.ok && served.error}`);
  const ar = JSON.parse(served.json);
  assert.match(ar.executionMetadata.worker, /^kiln-hmac-sha256:[0-9a-f]{64}$/, "kept as it is");
  const files = Object.fromEntries(ar.outputFiles.map((f: { path: string }) => [f.path, f]));
  assert.deepEqual(files["out/bin/tool"].isExecutable, true);
  assert.equal(files[BIG.path].digest.sizeBytes, "5000000", "int64 as a string");
  assert.equal(files[ENTRY_PATH].digest.hash, enc.entryDigest);
  assert.deepEqual(ar.stdoutDigest, { hash: LOG, sizeBytes: "8" });
  assert.deepEqual(ar.outputSymlinks, [{ path: "out/latest", target: "disk.img" }]);
  assert.deepEqual(await decode(served.json, enc.entryBlob), ENTRY);
});

Deno.test("bazelRemoteRoundTrip() rejects a field that REAPI does not define, so the conformance check can fail", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const withKilnField = JSON.stringify({ ...JSON.parse(enc.json), kiln: { task: "x" } });
  const served = await bazelRemoteRoundTrip(withKilnField);
  assert.equal(served.ok, false);
});

Deno.test("readActionResult() rejects an entry without kiln's signature, as bazel-remote fills in the worker", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const ar = JSON.parse(enc.json);
  delete ar.executionMetadata.worker;
  const served = await bazelRemoteRoundTrip(JSON.stringify(ar));
  assert.ok(served.ok);
  const r = await readActionResult(served.json, KEY, SECRET);
  assert.ok(isFailure(r));
  assert.equal(r.reason, "remote-entry-unsigned");
  assert.match(r.message, /"127\.0\.0\.1"/);
});

Deno.test("readActionResult() rejects a signature made with another secret, or moved to another key", async () => {
  const enc = await encodeEntry(ENTRY, "another-secret-0123456789", 8);
  const other = await readActionResult(enc.json, KEY, SECRET);
  assert.ok(isFailure(other));
  assert.equal(other.reason, "remote-entry-bad-signature");
  assert.match(other.message, new RegExp(`"${KEY.slice(0, 12)}…"`));

  const good = await encodeEntry(ENTRY, SECRET, 8);
  const moved = await readActionResult(good.json, sha256("another task"), SECRET);
  assert.ok(isFailure(moved) && moved.reason === "remote-entry-bad-signature");
});

Deno.test("readActionResult() rejects an entry pointing at another entry blob than it signed", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const forged = { ...ENTRY, task: "evil", durationMs: 1 };
  const forgedEnc = await encodeEntry(forged, "attacker-secret-0123456789", 8);
  const ar = JSON.parse(enc.json);
  ar.outputFiles[0].digest = JSON.parse(forgedEnc.json).outputFiles[0].digest;
  const r = await readActionResult(JSON.stringify(ar), KEY, SECRET);
  assert.ok(isFailure(r) && r.reason === "remote-entry-bad-signature");
});

Deno.test("readActionResult() rejects what is not an ActionResult in JSON", async () => {
  for (const text of ["\x0a\x05hello", "[1,2]", "null"]) {
    const r = await readActionResult(text, KEY, SECRET);
    assert.ok(isFailure(r), text);
    assert.equal(r.reason, "remote-entry-malformed");
  }
  const noEntry = await readActionResult('{"outputFiles":[]}', KEY, SECRET);
  assert.ok(isFailure(noEntry) && noEntry.reason === "remote-entry-unsigned");
});

Deno.test("assembleEntry() rejects inline content that does not match the signed manifest", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const ar = JSON.parse(enc.json);
  const up = ar.outputFiles.find((f: { path: string }) => f.path === "out/up.txt");
  up.contents = encodeInline(new TextEncoder().encode("EVIL!\n")); // same size, other bytes
  const r = await decode(JSON.stringify(ar), enc.entryBlob);
  assert.ok(isFailure(r));
  assert.equal(r.reason, "remote-entry-tampered");
  assert.match(r.message, /"out\/up\.txt"/);
});

Deno.test("assembleEntry() rejects an output listed with another digest than the signed manifest's", async () => {
  const enc = await encodeEntry(ENTRY, SECRET, 8);
  const ar = JSON.parse(enc.json);
  const big = ar.outputFiles.find((f: { path: string }) => f.path === BIG.path);
  big.digest.hash = sha256("evil");
  const r = await decode(JSON.stringify(ar), enc.entryBlob);
  assert.ok(isFailure(r) && r.reason === "remote-entry-tampered");
});

Deno.test("assembleEntry() rejects an entry blob for another key or with a path outside the workspace", () => {
  const ref = (blob: Uint8Array): EntryRef => ({
    key: KEY,
    entryDigest: sha256(blob),
    entrySize: blob.length,
    contents: new Map(),
    listed: new Map(),
  });
  const blobOf = (e: unknown) => new TextEncoder().encode(JSON.stringify(e));
  const otherKey = blobOf({ ...ENTRY, inline: undefined, key: sha256("x") });
  const r1 = assembleEntry(ref(otherKey), otherKey, KEY);
  assert.ok(isFailure(r1) && r1.reason === "remote-entry-malformed");
  for (const path of ["../outside", "/etc/passwd", "out/../../x"]) {
    const escaping = blobOf({
      ...ENTRY,
      inline: undefined,
      outputs: { ...ENTRY.outputs, files: [{ ...BIG, path }] },
    });
    const r2 = assembleEntry(ref(escaping), escaping, KEY);
    assert.ok(isFailure(r2) && r2.reason === "remote-entry-malformed", path);
  }
});

Deno.test("encodeEntry() without a log or inline outputs lists only blobs and still round-trips", async () => {
  const plain: ActionEntry = { ...ENTRY, log: null, inline: undefined };
  delete (plain as { inline?: unknown }).inline;
  const enc = await encodeEntry(plain, SECRET);
  const ar = JSON.parse(enc.json);
  assert.equal(ar.stdoutDigest, undefined);
  assert.ok(ar.outputFiles.every((f: { contents?: string }) => f.contents === undefined));
  const back = await decode(enc.json, enc.entryBlob);
  assert.deepEqual(back, { ...plain, inline: { "out/empty": "" } });
});
