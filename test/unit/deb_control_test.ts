import assert from "node:assert/strict";
import {
  conffilesFile,
  formatDescription,
  installedSize,
  md5sumsFile,
  renderControl,
} from "../../deb/control.ts";
import {
  changelogPath,
  changelogText,
  copyrightText,
  hasRevision,
  rfc2822,
} from "../../deb/docs.ts";
import { debSpec, type DebSpecInput } from "../../deb/spec.ts";
import type { Failure } from "../../engine/failure.ts";

const INPUT: DebSpecInput = {
  name: "kiln",
  version: "1:1.2.3-1",
  architecture: "amd64",
  maintainer: "Kiln Authors <kiln@kiln-build.org>",
  description: "Content-hashed build graph\nRuns tasks.",
  homepage: "https://kiln-build.org",
  depends: ["libc6 (>= 2.36)", "git | git-core"],
  pre_depends: ["dpkg (>= 1.19)"],
  provides: ["build-graph"],
  multi_arch: "foreign",
  copyright: { holder: "The kiln authors", license: "MIT" },
};

function spec(input: Partial<DebSpecInput> = {}) {
  const s = debSpec({ ...INPUT, ...input }, { root: "/srv" });
  if ("reason" in s) throw new Error(s.message);
  return s;
}

Deno.test("renderControl() writes the fields in dpkg-gencontrol's order", () => {
  assert.equal(
    renderControl(spec(), 42),
    [
      "Package: kiln",
      "Version: 1:1.2.3-1",
      "Architecture: amd64",
      "Maintainer: Kiln Authors <kiln@kiln-build.org>",
      "Installed-Size: 42",
      "Pre-Depends: dpkg (>= 1.19)",
      "Depends: libc6 (>= 2.36), git | git-core",
      "Provides: build-graph",
      "Section: misc",
      "Priority: optional",
      "Multi-Arch: foreign",
      "Homepage: https://kiln-build.org",
      "Description: Content-hashed build graph",
      " Runs tasks.",
      "",
    ].join("\n"),
  );
});

Deno.test("formatDescription() wraps paragraphs at 79 columns and marks blank lines", () => {
  const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
  const out = formatDescription(`Synopsis here\n\n${long}\n\nSecond paragraph.\n\n`);
  const lines = out.split("\n");
  assert.equal(lines[0], "Synopsis here");
  for (const l of lines.slice(1)) {
    assert.ok(l.length <= 79, `too long: ${JSON.stringify(l)}`);
    assert.ok(l.startsWith(" "), `not indented: ${JSON.stringify(l)}`);
  }
  assert.equal(
    lines.slice(1).map((l) => l.trim()).join(" ").replace(" . ", " "),
    `${long} Second paragraph.`,
  );
  assert.ok(lines.includes(" ."), "the blank line between paragraphs is written ' .'");
  assert.ok(out.endsWith(" Second paragraph."), "no blank line at the end");
});

Deno.test("formatDescription() keeps indented lines verbatim and starts list items anew", () => {
  assert.equal(
    formatDescription("Tool\nFeatures:\n- fast\n- small and\n  simple\n   $ tool --help"),
    "Tool\n Features:\n - fast\n - small and\n   simple\n    $ tool --help",
  );
});

Deno.test("installedSize() counts files by KiB rounded up and folders as one KiB", () => {
  const content = new Uint8Array();
  assert.equal(
    installedSize([
      { type: "dir", path: "", mode: 0o755 },
      { type: "file", path: "a", mode: 0o644, size: 1, content },
      { type: "file", path: "b", mode: 0o644, size: 1024, content },
      { type: "file", path: "c", mode: 0o644, size: 1025, content },
      { type: "file", path: "d", mode: 0o644, size: 0, content },
      { type: "symlink", path: "e", target: "a" },
    ]),
    1 + 1 + 1 + 2 + 0 + 1,
  );
});

Deno.test("md5sumsFile() and conffilesFile() sort their lines", () => {
  assert.equal(
    md5sumsFile(new Map([["usr/bin/b", "22"], ["usr/bin/a", "11"]])),
    "11  usr/bin/a\n22  usr/bin/b\n",
  );
  assert.equal(conffilesFile(["/etc/b", "/etc/a", "/etc/b"]), "/etc/a\n/etc/b\n");
  assert.equal(conffilesFile([]), "");
});

Deno.test("copyrightText() embeds the MIT text and refers to common licenses", () => {
  const mit = copyrightText(spec(), null, "here", 1700000000) as string;
  assert.match(
    mit,
    /^Format: https:\/\/www.debian.org\/doc\/packaging-manuals\/copyright-format\/1.0\/\n/,
  );
  assert.match(mit, /\nSource: https:\/\/kiln-build.org\n/);
  assert.match(
    mit,
    /\nCopyright: 2023 The kiln authors\nLicense: MIT\n Permission is hereby granted/,
  );
  assert.match(mit, /\n \.\n THE SOFTWARE IS PROVIDED/, "blank lines are written ' .'");
  const gpl = copyrightText(
    spec({ copyright: { holder: "Me", years: "2020-2026", license: "GPL-2+" } }),
    null,
    "here",
    0,
  ) as string;
  assert.match(
    gpl,
    /Copyright: 2020-2026 Me\nLicense: GPL-2\+\n On Debian systems.*\n "\/usr\/share\/common-licenses\/GPL-2"\.\n$/,
  );
});

Deno.test("copyrightText() uses license_file text and fails for an unknown license without it", () => {
  const s = spec({ copyright: { holder: "Me", license: "Zlib" } });
  const own = copyrightText(s, "Line one\n\nLine two\n", "here", 0) as string;
  assert.match(own, /License: Zlib\n Line one\n \.\n Line two\n$/);
  const bad = copyrightText(s, null, 'Package spec "p.yaml" line 9', 0) as Failure;
  assert.equal(bad.reason, "deb-spec-invalid");
  assert.match(
    bad.message,
    /^Package spec "p.yaml" line 9: key "copyright.license_file" is missing/,
  );
});

Deno.test("changelogPath() tells native versions from versions with a revision", () => {
  assert.ok(hasRevision("1.2-1") && hasRevision("2:1.2-1") && !hasRevision("2:1.2"));
  assert.equal(
    changelogPath({ name: "kiln", version: "1.2-1" }),
    "usr/share/doc/kiln/changelog.Debian.gz",
  );
  assert.equal(changelogPath({ name: "kiln", version: "1.2" }), "usr/share/doc/kiln/changelog.gz");
});

Deno.test("changelogText() writes one entry dated in RFC 2822", () => {
  assert.equal(rfc2822(1700000000), "Tue, 14 Nov 2023 22:13:20 +0000");
  assert.equal(
    changelogText(spec(), 0),
    "kiln (1:1.2.3-1) unstable; urgency=medium\n\n  * Release 1:1.2.3-1.\n\n" +
      " -- Kiln Authors <kiln@kiln-build.org>  Thu, 01 Jan 1970 00:00:00 +0000\n",
  );
});
