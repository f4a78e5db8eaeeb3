import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hashFile, sha256 } from "../../engine/hash.ts";
import { sha256Small } from "../../engine/sha256_small.ts";

const ref = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

Deno.test("sha256Small() matches the FIPS 180-4 test vectors", () => {
  assert.equal(
    sha256Small(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256Small("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Small("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256Small() agrees with node:crypto for every length around block boundaries", () => {
  let seed = 7;
  for (let len = 0; len < 300; len++) {
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    assert.equal(sha256Small(b), ref(b), `length ${len}`);
  }
  assert.equal(sha256Small("héllo wörld ✓"), ref("héllo wörld ✓"));
});

Deno.test("hashFile() gives node:crypto's digest for small, boundary and large files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 1, 65535, 65536, 65537, 5 * 1024 * 1024 + 3]) {
      const b = new Uint8Array(size);
      for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 255;
      const p = `${dir}/f${size}`;
      Deno.writeFileSync(p, b);
      assert.deepEqual(await hashFile(p), { digest: ref(b), size }, `size ${size}`);
    }
    assert.equal(await sha256("x".repeat(100_000)), ref("x".repeat(100_000)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
