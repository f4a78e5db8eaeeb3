import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { ConfigError } from "../../engine/failure.ts";
import {
  type Catalog,
  findDistro,
  loadCatalog,
  missingPackerTemplates,
  parseCatalog,
  resolveDistro,
} from "../../iso/catalog.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

/** A valid two-entry catalog; tests change a line of it and expect that line in the error. */
const VALID = `distros:
  alpha:
    name: Alpha Linux
    version: "1.0"
    arch: x86_64
    iso:
      file: alpha-1.0.iso
      urls:
        - https://example.org/alpha/alpha-1.0.iso
    checksum:
      urls:
        - https://example.org/alpha/SHA256SUMS
      format: bsd
      clearsigned: true
    signature:
      kind: clearsign
    keys:
      urls: [https://example.org/alpha/key.asc]
      fingerprints: ["0123456789ABCDEF0123456789ABCDEF01234567"]
    packer: packer/alpha
    boot_marker: 'login:'
  beta:
    name: Beta
    version: "2"
    arch: x86_64
    iso:
      file: beta.iso
      urls: ["http://127.0.0.1:{port}/beta.iso"]
    checksum:
      urls: ["http://127.0.0.1:{port}/SHA256SUMS"]
      format: gnu
      clearsigned: false
    signature:
      kind: detached
      urls: ["http://127.0.0.1:{port}/SHA256SUMS.gpg"]
      encoding: binary
    keys:
      urls: ["http://127.0.0.1:{port}/key.asc"]
      fingerprints: []
      fingerprints_from: beta-key
    packer: packer/beta
    boot_marker: 'beta ok'
`;

/** The ConfigError message for `text`, which must be invalid. */
function errorOf(text: string): string {
  try {
    parseCatalog(text, "iso/catalog.yaml");
  } catch (e) {
    ok(e instanceof ConfigError, String(e));
    ok(!e.message.includes("\n"), "one line");
    return e.message;
  }
  throw new Error("expected a ConfigError");
}

/** VALID with the first `from` replaced by `to` (which must exist). */
function edit(from: string, to: string): string {
  ok(VALID.includes(from), `test bug: ${JSON.stringify(from)} not in VALID`);
  return VALID.replace(from, to);
}

Deno.test("loadCatalog() reads the real iso/catalog.yaml with every distro of the pipeline", () => {
  const catalog = loadCatalog();
  const ids = catalog.distros.map((d) => d.id);
  for (const id of ["ubuntu", "almalinux", "rockylinux", "centos-stream", "fedora", "demo"]) {
    ok(ids.includes(id), `${id} is in the catalog`);
  }
  for (const d of catalog.distros) {
    for (const url of d.iso.urls) ok(url.endsWith(`/${d.iso.file}`), `${d.id}: ${url}`);
    equal(d.packer, `packer/${d.id}`);
    ok(d.keys.fingerprints.every((f) => /^[0-9A-F]{40}$/.test(f)), d.id);
    if (d.signature.kind !== "none") {
      ok(d.keys.fingerprints.length > 0 || d.keys.fingerprintsFrom, `${d.id} pins a key`);
      ok(d.keys.urls.length > 0, `${d.id} has key URLs`);
    }
  }
  const ubuntu = findDistro(catalog, "ubuntu");
  deepEqual(ubuntu.keys.fingerprints, ["843938DF228D22F7B3742BC0D94AA3F0EFE21092"]);
  deepEqual(ubuntu.signature, {
    kind: "detached",
    urls: [
      "https://releases.ubuntu.com/22.04.5/SHA256SUMS.gpg",
      "https://old-releases.ubuntu.com/releases/22.04.5/SHA256SUMS.gpg",
    ],
    encoding: "armored",
  });
  equal(ubuntu.checksum.file, "SHA256SUMS");
  equal(findDistro(catalog, "fedora").signature.kind, "clearsign");
  equal(findDistro(catalog, "almalinux").checksum.clearsigned, true);
  equal(findDistro(catalog, "centos-stream").signature.kind, "none");
  const demo = findDistro(catalog, "demo");
  equal(demo.keys.fingerprintsFrom, "demo-key");
  ok(demo.iso.urls[0].startsWith("http://127.0.0.1:{port}/"));
});

Deno.test("loadCatalog() throws a ConfigError naming a catalog that does not exist", () => {
  throws(
    () => loadCatalog("/work/main/test/.tmp/no-such-catalog.yaml"),
    (e: Error) => e instanceof ConfigError && /does not exist; check the path$/.test(e.message),
  );
});

Deno.test("parseCatalog() returns typed entries with defaults filled in", () => {
  const c = parseCatalog(VALID, "c.yaml");
  const [alpha, beta] = c.distros;
  equal(alpha.checksum.algorithm, "sha256");
  equal(alpha.bootMarker, "login:");
  equal(beta.checksum.file, "SHA256SUMS");
  equal(beta.keys.fingerprintsFrom, "beta-key");
});

Deno.test("parseCatalog() names file, line and key path for an unknown checksum format", () => {
  equal(
    errorOf(edit("format: bsd", "format: md5")),
    'iso/catalog.yaml:13: distros.alpha.checksum.format: expected one of gnu, bsd, auto, got "md5"; write one of them',
  );
});

Deno.test("parseCatalog() asks to quote a version YAML read as a number", () => {
  equal(
    errorOf(edit('version: "2"', "version: 2.10")),
    'iso/catalog.yaml:24: distros.beta.version: expected a string, got the number 2.10; quote it: "2.10"',
  );
});

Deno.test("parseCatalog() reports a misspelt key, not the key it makes missing", () => {
  equal(
    errorOf(edit("      encoding: binary", "      encodng: binary")),
    'iso/catalog.yaml:36: distros.beta.signature.encodng: unknown key "encodng"; rename it to encoding',
  );
  equal(
    errorOf(edit("      encoding: binary\n", "")),
    "iso/catalog.yaml:33: distros.beta.signature: missing encoding; add encoding: armored or binary",
  );
});

Deno.test("parseCatalog() refuses a short or spaced fingerprint", () => {
  match(
    errorOf(edit('"0123456789ABCDEF0123456789ABCDEF01234567"', '"0123 4567"')),
    /^iso\/catalog.yaml:19: distros.alpha.keys.fingerprints\[0\]: expected a full key fingerprint/,
  );
});

Deno.test("parseCatalog() refuses plain http except for a loopback mirror", () => {
  match(
    errorOf(
      edit("https://example.org/alpha/alpha-1.0.iso", "http://example.org/alpha/alpha-1.0.iso"),
    ),
    /^iso\/catalog.yaml:9: distros.alpha.iso.urls\[0\]: "http:\/\/example.org\/alpha\/alpha-1.0.iso" is not https/,
  );
});

Deno.test("parseCatalog() refuses an ISO URL that names another file", () => {
  equal(
    errorOf(edit("file: alpha-1.0.iso", "file: alpha-1.1.iso")),
    'iso/catalog.yaml:9: distros.alpha.iso.urls[0]: names "alpha-1.0.iso", not the ISO file "alpha-1.1.iso"; fix one of them',
  );
});

Deno.test("parseCatalog() refuses clearsigned that disagrees with the signature kind", () => {
  equal(
    errorOf(edit("clearsigned: true", "clearsigned: false")),
    "iso/catalog.yaml:14: distros.alpha.checksum.clearsigned: is false but signature.kind is clearsign; write clearsigned: true",
  );
});

Deno.test("parseCatalog() refuses a signed distro that pins no key", () => {
  equal(
    errorOf(edit("      fingerprints_from: beta-key\n", "")),
    "iso/catalog.yaml:39: distros.beta.keys.fingerprints: pins no key; add the signing key's full fingerprint",
  );
});

Deno.test("parseCatalog() refuses pins on a distro whose signature kind is none", () => {
  match(
    errorOf(edit("      kind: clearsign\n", "      kind: none\n      reason: unsigned\n")),
    /^iso\/catalog.yaml:14: distros.alpha.checksum.clearsigned: is true but signature.kind is none/,
  );
  const none = edit(
    "      clearsigned: true\n    signature:\n      kind: clearsign\n",
    "      clearsigned: false\n    signature:\n      kind: none\n      reason: unsigned\n",
  );
  equal(
    errorOf(none),
    "iso/catalog.yaml:18: distros.alpha.keys: pins keys but signature.kind is none; empty keys, or declare the signature",
  );
});

Deno.test("parseCatalog() names a duplicate distro and a tab in the YAML", () => {
  equal(
    errorOf(edit("  beta:", "  alpha:")),
    'iso/catalog.yaml:22: invalid YAML: duplicate key "alpha"; remove or rename one of them',
  );
  equal(
    errorOf(edit("    name: Beta", "\tname: Beta")),
    "iso/catalog.yaml:23: invalid YAML: tabs are not allowed as indentation; indent with spaces, not tabs",
  );
});

Deno.test("parseCatalog() refuses a boot marker that is not a regex, and a bad packer folder", () => {
  match(
    errorOf(edit("boot_marker: 'login:'", "boot_marker: 'login:('")),
    /^iso\/catalog.yaml:21: distros.alpha.boot_marker: is not a valid regex/,
  );
  equal(
    errorOf(edit("packer: packer/beta", "packer: ../beta")),
    'iso/catalog.yaml:41: distros.beta.packer: expected the template folder as packer/<name>, got "../beta"; e.g. packer/fedora',
  );
});

Deno.test("findDistro() throws a ConfigError listing the known ids for an unknown one", () => {
  const c = parseCatalog(VALID, "c.yaml");
  throws(
    () => findDistro(c, "gamma"),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message === 'Unknown distro "gamma"; use one of alpha, beta (see c.yaml)',
  );
});

Deno.test("resolveDistro() fills placeholders and adds the run-time pins the entry asks for", () => {
  const [alpha, beta] = parseCatalog(VALID, "c.yaml").distros;
  const fpr = "abcdef0123456789abcdef0123456789abcdef01";
  const r = resolveDistro(beta, { vars: { port: "8431" }, pins: { "beta-key": [fpr] } });
  deepEqual(r.iso.urls, ["http://127.0.0.1:8431/beta.iso"]);
  deepEqual(r.checksum.urls, ["http://127.0.0.1:8431/SHA256SUMS"]);
  deepEqual(r.signature.kind === "detached" && r.signature.urls, [
    "http://127.0.0.1:8431/SHA256SUMS.gpg",
  ]);
  deepEqual(r.keys.urls, ["http://127.0.0.1:8431/key.asc"]);
  deepEqual(r.pinned, [fpr.toUpperCase()]);
  // An entry that does not ask for run-time pins ignores them.
  deepEqual(resolveDistro(alpha, { pins: { "beta-key": [fpr] } }).pinned, alpha.keys.fingerprints);
});

Deno.test("resolveDistro() throws when a placeholder or a run-time pin is not given", () => {
  const beta = parseCatalog(VALID, "c.yaml").distros[1];
  throws(
    () => resolveDistro(beta, { pins: { "beta-key": ["AB".repeat(20)] } }),
    (e: Error) =>
      e instanceof ConfigError &&
      /has \{port\} in iso.urls\[0\] but no value was given; pass vars.port/.test(e.message),
  );
  throws(
    () => resolveDistro(beta, { vars: { port: "1" } }),
    (e: Error) =>
      e instanceof ConfigError &&
      /pins its signing key at run time .* pass pins\["beta-key"\]$/.test(e.message),
  );
  throws(
    () => resolveDistro(beta, { vars: { port: "1" }, pins: { "beta-key": ["ABCD1234"] } }),
    (e: Error) => e instanceof ConfigError && /is not a full key fingerprint/.test(e.message),
  );
  throws(
    () =>
      resolveDistro(beta, { vars: { port: "1/evil" }, pins: { "beta-key": ["AB".repeat(20)] } }),
    ConfigError,
  );
});

Deno.test("missingPackerTemplates() lists the distros whose template folder is missing", async () => {
  const root = await makeTmp("iso-catalog-");
  try {
    const c: Catalog = parseCatalog(VALID, "c.yaml");
    deepEqual(missingPackerTemplates(c, root).map((d) => d.id), ["alpha", "beta"]);
    await Deno.mkdir(`${root}/packer/alpha`, { recursive: true });
    await Deno.writeTextFile(`${root}/packer/beta`, "a file, not a folder");
    deepEqual(missingPackerTemplates(c, root).map((d) => d.id), ["beta"]);
  } finally {
    await removeTree(root);
  }
});
