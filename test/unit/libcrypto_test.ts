import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type DigestAlgorithm, loadLibcrypto } from "../../engine/libcrypto.ts";
import { hashBytes, hashFileStreaming, sha256Hex } from "../../apt/file_hashes.ts";
import { hashFile } from "../../engine/hash.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const ALGORITHMS: DigestAlgorithm[] = ["md5", "sha256", "sha512"];

/** Inputs around the block sizes (64 and 128 bytes), and a large one. */
function inputs(): Uint8Array[] {
  let seed = 7;
  const bytes = (n: number) =>
    Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  return [0, 1, 55, 56, 63, 64, 111, 112, 127, 128, 129, 1000, 700_000].map(bytes);
}

Deno.test("Libcrypto.digest() and hashBytes() equal node:crypto's digests when given any input", () => {
  const lib = loadLibcrypto();
  if (Deno.build.os === "linux") assert.ok(lib, "libcrypto loads on Linux (OpenSSL is installed)");
  if (!lib) return;
  for (const input of inputs()) {
    for (const algorithm of ALGORITHMS) {
      const want = createHash(algorithm).update(input).digest("hex");
      assert.equal(lib.digest(algorithm, input), want, `${algorithm} of ${input.length} bytes`);
    }
    const hex = (a: DigestAlgorithm) => createHash(a).update(input).digest("hex");
    const want = {
      size: input.length,
      md5: hex("md5"),
      sha256: hex("sha256"),
      sha512: hex("sha512"),
    };
    assert.deepEqual(hashBytes(input), want);
  }
});

Deno.test("hashFile() gives node:crypto's SHA-256 when the file is small or larger than a read", async () => {
  const dir = await makeTmp("file-sha256-");
  try {
    for (const size of [0, 5_000, 4 * 1024 * 1024 + 3]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const path = `${dir}/f${size}`;
      Deno.writeFileSync(path, bytes);
      assert.equal(
        (await hashFile(path)).digest,
        createHash("sha256").update(bytes).digest("hex"),
        `${size}`,
      );
    }
  } finally {
    await removeTree(dir);
  }
});

Deno.test("sha256Hex() and hashFileStreaming() give node:crypto's digests when given any input", async () => {
  const dir = await makeTmp("file-hashes-");
  try {
    for (const [i, input] of [...inputs(), new Uint8Array(4 * 1024 * 1024 + 5).fill(7)].entries()) {
      const want = (a: string) => createHash(a).update(input).digest("hex");
      assert.equal(sha256Hex(input), want("sha256"), `${input.length} bytes`);
      const path = `${dir}/f${i}`;
      Deno.writeFileSync(path, input);
      assert.deepEqual(await hashFileStreaming(path), {
        size: input.length,
        md5: want("md5"),
        sha256: want("sha256"),
        sha512: want("sha512"),
      });
    }
  } finally {
    await removeTree(dir);
  }
});
