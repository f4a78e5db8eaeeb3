import { deepEqual, equal, match, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Failure } from "../../engine/failure.ts";
import { type ChecksumEntry, findChecksum, parseChecksums } from "../../iso/checksums.ts";

const A = createHash("sha256").update("a").digest("hex");
const B = createHash("sha256").update("b").digest("hex");
const A512 = createHash("sha512").update("a").digest("hex");

function entries(result: ChecksumEntry[] | Failure): ChecksumEntry[] {
  if (!Array.isArray(result)) throw new Error(`unexpected failure: ${result.message}`);
  return result;
}

function failed(result: ChecksumEntry[] | Failure): Failure {
  if (Array.isArray(result)) throw new Error(`expected a failure, got ${result.length} entries`);
  equal(result.reason, "iso-checksum-missing");
  ok(!result.message.includes("\n"), "one line");
  ok(!result.message.endsWith("."), "no final period");
  return result;
}

Deno.test("parseChecksums() reads GNU lines in binary (*) and text (two spaces) mode", () => {
  const got = entries(parseChecksums(`${A} *a.iso\n${B}  b.iso\n`, "gnu"));
  deepEqual(got, [
    { algorithm: "sha256", digest: A, fileName: "a.iso", line: 1 },
    { algorithm: "sha256", digest: B, fileName: "b.iso", line: 2 },
  ]);
});

Deno.test("parseChecksums() reads BSD lines and skips # comments and blank lines", () => {
  const text =
    `# a.iso: 123 bytes\nSHA256 (a.iso) = ${A}\n\n   \n# b.iso: 9 bytes\nSHA256 (b.iso) = ${B}\n`;
  const got = entries(parseChecksums(text, "bsd"));
  deepEqual(got.map((e) => [e.fileName, e.digest, e.line]), [["a.iso", A, 2], ["b.iso", B, 6]]);
});

Deno.test("parseChecksums() reads SHA-512 in both formats and lowercases digests", () => {
  const text = `${A512.toUpperCase()}  a.iso\nSHA512 (b.iso) = ${A512}\n`;
  const got = entries(parseChecksums(text, "auto"));
  deepEqual(got.map((e) => [e.algorithm, e.digest]), [["sha512", A512], ["sha512", A512]]);
});

Deno.test("parseChecksums() in auto mode reads GNU and BSD lines mixed, with CRLF endings", () => {
  const got = entries(parseChecksums(`${A} *a.iso\r\nSHA256 (b.iso) = ${B}\r\n`));
  deepEqual(got.map((e) => e.fileName), ["a.iso", "b.iso"]);
});

Deno.test("parseChecksums() keeps spaces and parentheses in file names", () => {
  const got = entries(parseChecksums(`SHA256 (my (1).iso) = ${A}\n${B}  with  two spaces.iso\n`));
  deepEqual(got.map((e) => e.fileName), ["my (1).iso", "with  two spaces.iso"]);
});

Deno.test("parseChecksums() unescapes GNU names that start with a backslash", () => {
  const got = entries(parseChecksums(`\\${A}  dir\\\\a\\nb.iso\n`, "gnu"));
  equal(got[0].fileName, "dir\\a\nb.iso");
});

Deno.test("parseChecksums() fails naming the line when a line is in neither format", () => {
  const f = failed(parseChecksums(`${A}  a.iso\nthis is not a checksum\n`));
  match(f.message, /^The checksum file line 2 is neither a GNU .* "this is not a checksum"/);
});

Deno.test("parseChecksums() fails when a line is not in the declared format", () => {
  match(failed(parseChecksums(`SHA256 (a.iso) = ${A}\n`, "gnu")).message, /line 1 is not a GNU/);
  match(failed(parseChecksums(`${A}  a.iso\n`, "bsd")).message, /line 1 is not a BSD/);
});

Deno.test("parseChecksums() fails on a digest of the wrong length", () => {
  match(failed(parseChecksums(`${A.slice(1)}  a.iso\n`)).message, /63 hex digits/);
  match(failed(parseChecksums(`SHA256 (a.iso) = ${A}0\n`)).message, /65 hex digits instead of 64/);
});

Deno.test("parseChecksums() refuses MD5 lines in both formats instead of skipping them", () => {
  const md5 = createHash("md5").update("a").digest("hex");
  match(failed(parseChecksums(`MD5 (a.iso) = ${md5}\n`)).message, /uses MD5, which kiln does not/);
  match(failed(parseChecksums(`${md5}  a.iso\n`, "gnu")).message, /32 hex digits/);
});

Deno.test("parseChecksums() fails on an empty file or one with only comments", () => {
  match(failed(parseChecksums("")).message, /lists no checksums/);
  match(
    failed(parseChecksums("# nothing here\n\n", "bsd", { name: "CHECKSUM" })).message,
    /^Checksum file "CHECKSUM" lists no checksums/,
  );
});

Deno.test("parseChecksums() fails when a file is listed twice with different digests", () => {
  const f = failed(parseChecksums(`SHA256 (a.iso) = ${A}\nSHA256 (a.iso) = ${B}\n`));
  match(f.message, /lists "a.iso" twice with different digests \(lines 1 and 2\)/);
  equal(entries(parseChecksums(`${A}  a.iso\nSHA256 (a.iso) = ${A}\n`)).length, 2);
});

Deno.test("parseChecksums() refuses text that is still clearsigned", () => {
  const text = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${A}  a.iso\n`;
  match(
    failed(parseChecksums(text)).message,
    /armor line .* pass the text that signature verification returned/,
  );
});

Deno.test("parseChecksums() reads the published layout of every fixture", () => {
  const files = [
    ["ubuntu/SHA256SUMS", "gnu", 2],
    ["almalinux/CHECKSUM", "bsd", 6],
    ["rockylinux/CHECKSUM", "bsd", 6],
    ["centos-stream/CentOS-Stream-9-latest-x86_64-boot.iso.SHA256SUM", "auto", 1],
    ["fedora/Fedora-Server-44-1.7-x86_64-CHECKSUM", "bsd", 2],
    ["demo/SHA256SUMS", "gnu", 1],
  ] as const;
  for (const [file, format, count] of files) {
    const text = Deno.readTextFileSync(new URL(`../fixtures/iso/${file}`, import.meta.url));
    const got = entries(parseChecksums(text, format));
    equal(got.length, count, file);
    for (const e of got) {
      const madeUp = createHash("sha256").update(`kiln made-up digest: ${e.fileName}`).digest(
        "hex",
      );
      equal(e.digest, madeUp, `${file}: ${e.fileName}`);
    }
  }
});

Deno.test("findChecksum() matches the exact name, ignoring a leading ./", () => {
  const list = entries(parseChecksums(`${A}  ./a.iso\n${B}  sub/b.iso\n`));
  equal(findChecksum(list, "a.iso")?.digest, A);
  equal(findChecksum(list, "./a.iso")?.digest, A);
  equal(findChecksum(list, "b.iso"), undefined);
  equal(findChecksum(list, "A.ISO"), undefined);
  equal(findChecksum(list, "sub/b.iso")?.digest, B);
});

Deno.test("findChecksum() prefers SHA-256, and returns the asked algorithm only", () => {
  const list = entries(parseChecksums(`SHA512 (a.iso) = ${A512}\nSHA256 (a.iso) = ${A}\n`));
  equal(findChecksum(list, "a.iso")?.algorithm, "sha256");
  equal(findChecksum(list, "a.iso", "sha512")?.digest, A512);
  const only512 = entries(parseChecksums(`SHA512 (a.iso) = ${A512}\n`));
  equal(findChecksum(only512, "a.iso")?.algorithm, "sha512");
  equal(findChecksum(only512, "a.iso", "sha256"), undefined);
  equal(findChecksum(list, "missing.iso"), undefined);
});
