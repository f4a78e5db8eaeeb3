import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { concatBytes } from "../../engine/bytes.ts";
import { loadLibcrypto } from "../../engine/libcrypto.ts";
import { canResume, hashPieces, type PiecedFile } from "../../apt/resumable_hashes.ts";

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);
}

function whole(file: PiecedFile) {
  const all = concatBytes([file.head, ...file.pieces, file.tail]);
  const h = (a: string) => createHash(a).update(all).digest("hex");
  return { size: all.length, md5: h("md5"), sha256: h("sha256"), sha512: h("sha512") };
}

Deno.test("Libcrypto.contexts is true when OpenSSL's context structs have the sizes kiln saves", () => {
  const lib = loadLibcrypto();
  if (Deno.build.os === "linux") assert.ok(lib?.contexts, "libcrypto loads and its contexts check");
});

Deno.test("hashPieces() gives the whole file's digests when resumed after any run of pieces", () => {
  if (!canResume()) return;
  // Pieces around the block sizes (64 and 128 bytes), an empty one, and a large one.
  const pieces = [bytes(55, 1), bytes(0, 2), bytes(129, 3), bytes(700_000, 4), bytes(64, 5)];
  const file = { head: bytes(12, 9), pieces, tail: bytes(40, 8) };
  {
    const first = hashPieces(file, null);
    assert.ok(first);
    assert.deepEqual(first.hashes, whole(file));
    for (let at = 1; at <= pieces.length; at++) {
      // The pieces from `at` on change (and one more is added); those before are as hashed.
      const later = [...pieces.slice(0, at), ...pieces.slice(at).map((p) => p.map((b) => b ^ 1))];
      const edited = { ...file, pieces: [...later, bytes(33, at)] };
      const resumed = hashPieces(edited, { at, state: first.after[at - 1]! });
      assert.ok(resumed);
      assert.deepEqual(resumed.hashes, whole(edited), `resumed at ${at}`);
      assert.equal(resumed.after[at - 1], undefined, "states before the resume point are not made");
      // A state saved after a resumed piece resumes correctly too.
      const again = hashPieces(edited, { at: at + 1, state: resumed.after[at]! });
      assert.deepEqual(again!.hashes, whole(edited));
    }
  }
});

Deno.test("hashPieces() trusts its resume state: another file's state gives other digests", () => {
  if (!canResume()) return;
  const a = {
    head: new Uint8Array(0),
    pieces: [bytes(100, 1), bytes(100, 2)],
    tail: new Uint8Array(0),
  };
  const b = { ...a, pieces: [bytes(100, 3), bytes(100, 2)] };
  const fromA = hashPieces(a, null);
  const wrong = hashPieces(b, { at: 1, state: fromA!.after[0]! });
  assert.notDeepEqual(wrong!.hashes, whole(b));
});
