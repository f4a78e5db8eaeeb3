import assert from "node:assert/strict";
import { poolPath } from "../../apt/pool_file.ts";
import { archReleaseText, releaseDate, releaseText } from "../../apt/release_file.ts";
import { packageStanza } from "../../apt/stanza.ts";

const hashes = { size: 1234, md5: "m".repeat(32), sha256: "s".repeat(64), sha512: "x".repeat(128) };

Deno.test("releaseDate() writes RFC 2822 in UTC as Release files do", () => {
  assert.equal(releaseDate(new Date(0)), "Thu, 01 Jan 1970 00:00:00 UTC");
  assert.equal(releaseDate(new Date(1_700_000_000_000)), "Tue, 14 Nov 2023 22:13:20 UTC");
});

Deno.test("releaseText() lists every entry under MD5Sum, SHA256 and SHA512 with padded sizes", () => {
  const text = releaseText({
    origin: "o",
    label: "l",
    suite: "stable",
    codename: "c",
    date: new Date(0),
    architectures: ["amd64"],
    components: ["main"],
  }, [{ path: "main/binary-amd64/Packages", ...hashes }]);
  assert.equal(
    text,
    "Origin: o\nLabel: l\nSuite: stable\nCodename: c\nDate: Thu, 01 Jan 1970 00:00:00 UTC\n" +
      "Acquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\n" +
      `MD5Sum:\n ${hashes.md5}             1234 main/binary-amd64/Packages\n` +
      `SHA256:\n ${hashes.sha256}             1234 main/binary-amd64/Packages\n` +
      `SHA512:\n ${hashes.sha512}             1234 main/binary-amd64/Packages\n`,
  );
  assert.equal(
    archReleaseText({ origin: "o", label: "l", suite: "s", codename: "c" }, "main", "arm64"),
    "Archive: s\nOrigin: o\nLabel: l\nCodename: c\nAcquire-By-Hash: yes\nComponent: main\n" +
      "Architecture: arm64\n",
  );
});

Deno.test("packageStanza() orders fields as apt-ftparchive does and drops the package's own hashes", () => {
  const s = packageStanza(
    [
      ["Package", "hello"],
      ["Version", "1.0"],
      ["Description", "short\n long"],
      ["X-Custom", "yes"],
      ["Architecture", "amd64"],
      ["Conffiles", "\n /etc/hello 0123"],
      ["SHA256", "forged"],
      ["Depends", "libc6"],
    ],
    "pool/main/h/hello/hello_1.0_amd64.deb",
    hashes,
  );
  assert.equal(
    s,
    "Package: hello\nArchitecture: amd64\nVersion: 1.0\nConffiles:\n /etc/hello 0123\n" +
      "Depends: libc6\nFilename: pool/main/h/hello/hello_1.0_amd64.deb\nSize: 1234\n" +
      `MD5sum: ${hashes.md5}\nSHA256: ${hashes.sha256}\nSHA512: ${hashes.sha512}\n` +
      "Description: short\n long\nX-Custom: yes\n",
  );
});

Deno.test("poolPath() follows Debian's pool layout: source folder, lib prefix, no epoch", () => {
  const f = (pkg: string, version: string, arch: string, source?: string) =>
    [["Package", pkg], ["Version", version], ["Architecture", arch]].concat(
      source ? [["Source", source]] : [],
    ) as [string, string][];
  assert.equal(
    poolPath("main", f("hello", "1:2.0-1", "all")),
    "pool/main/h/hello/hello_2.0-1_all.deb",
  );
  assert.equal(
    poolPath("contrib", f("libfoo1", "0.9", "amd64", "libfoo (0.9)")),
    "pool/contrib/libf/libfoo/libfoo1_0.9_amd64.deb",
  );
  assert.equal(poolPath("main", f("lib", "1", "amd64")), "pool/main/l/lib/lib_1_amd64.deb");
  // A Source field that is not a package name never becomes a path.
  assert.equal(
    poolPath("main", f("evil", "1", "amd64", "../../etc")),
    "pool/main/e/evil/evil_1_amd64.deb",
  );
});
