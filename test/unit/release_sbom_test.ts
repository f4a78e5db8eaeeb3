import assert from "node:assert/strict";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import * as CDX from "@cyclonedx/cyclonedx-library";
import { buildSbom, npmPurl, parseDenoLock } from "../../release/sbom.ts";

/**
 * The official CycloneDX 1.6 JSON schema (strict form) as the library ships it, compiled as the
 * library's own validator does, offline: the referenced SPDX, JSF and crypto schemas are loaded
 * from the same folder, never fetched.
 */
interface SchemaFiles {
  CDX: { JSON_STRICT_SCHEMA: Record<string, string | undefined> };
  SPDX: { JSON_SCHEMA: string };
  CryptoDefs: { JSON_SCHEMA: string };
  JSF: { JSON_SCHEMA: string };
}

function cyclonedx16Validator() {
  // `_Resources` (the shipped schema paths) is exported at run time but not in the typings.
  const files = (CDX as unknown as { _Resources: { FILES: SchemaFiles } })._Resources.FILES;
  const read = (p: string | undefined) => JSON.parse(Deno.readTextFileSync(p!));
  // Both packages are CommonJS: their default import is the module, whose `default` is the export.
  const ajv = new Ajv.default({
    strict: false,
    addUsedSchema: false,
    schemas: {
      "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json": read(files.SPDX.JSON_SCHEMA),
      "http://cyclonedx.org/schema/cryptography-defs.SNAPSHOT.schema.json": read(
        files.CryptoDefs.JSON_SCHEMA,
      ),
      "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json": read(files.JSF.JSON_SCHEMA),
    },
  });
  addFormats.default(ajv);
  ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/);
  ajv.addFormat("iri-reference", true);
  const schema = read(files.CDX.JSON_STRICT_SCHEMA[CDX.Spec.Version.v1dot6]);
  assert.equal(schema.$id, "http://cyclonedx.org/schema/bom-1.6.schema.json");
  const compiled = ajv.compile(schema);
  // A plain boolean (not ajv's type guard), so a failed check does not narrow the document.
  const validate = (doc: unknown): boolean => compiled(doc);
  validate.errors = () => JSON.stringify(compiled.errors, null, 1);
  return validate;
}

const FILES = [
  { name: "kiln_0.1.0_amd64.deb", size: 10, sha256: "a".repeat(64), sha512: "b".repeat(128) },
  { name: "disk.qcow2", size: 20, sha256: "c".repeat(64), sha512: "d".repeat(128) },
];

const LOCK = JSON.stringify({
  version: "5",
  specifiers: {
    "npm:@dagrejs/dagre@^1.1.4": "1.1.8",
    "npm:zod@^3.25.0": "3.25.76",
    "npm:@cyclonedx/cyclonedx-library@^10.3.0": "10.3.0_ajv@8.20.0",
  },
  npm: {
    "@dagrejs/dagre@1.1.8": {
      integrity:
        "sha512-5SEDlndt4W/LaVzPYJW+bSmSEZc9EzTf8rJ20WCKvjS5EAZAN0b+x0Yww7VMT4R3Wootkg+X9bUfUxazYw6Blw==",
      dependencies: ["@dagrejs/graphlib"],
    },
    "@dagrejs/graphlib@2.2.4": { integrity: "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
    "@cyclonedx/cyclonedx-library@10.3.0_ajv@8.20.0": {
      integrity:
        "sha512-RIT28sp1U0PCHaaeF3yNRwk6Jig/XJ8UsYAVOMYaHQ+0VVOvsjcp0PTWQFLUqJFF8XMud+Kdq6G+wtDAh+QJFA==",
      dependencies: ["ajv"],
    },
    "@cyclonedx/cyclonedx-library@10.3.0": {
      integrity:
        "sha512-RIT28sp1U0PCHaaeF3yNRwk6Jig/XJ8UsYAVOMYaHQ+0VVOvsjcp0PTWQFLUqJFF8XMud+Kdq6G+wtDAh+QJFA==",
    },
    "ajv@8.20.0": { integrity: "sha512-AAAA" }, // malformed: no hash rather than a wrong one
    "zod@3.25.76": { integrity: "sha512-AAAA" },
  },
  workspace: {
    dependencies: [
      "npm:@dagrejs/dagre@^1.1.4",
      "npm:zod@^3.25.0",
      "npm:@cyclonedx/cyclonedx-library@^10.3.0",
    ],
  },
});

Deno.test("buildSbom() makes a CycloneDX 1.6 document that the official schema accepts", () => {
  const validate = cyclonedx16Validator();
  const text = buildSbom({ files: FILES, date: new Date(1714564800_000) });
  assert.equal(typeof text, "string", JSON.stringify(text));
  const doc = JSON.parse(text as string);
  assert.ok(validate(doc), validate.errors());
  assert.equal(doc.specVersion, "1.6");
  assert.equal(doc.metadata.timestamp, "2024-05-01T12:00:00.000Z");
  assert.equal(doc.metadata.component.name, "kiln");
  assert.equal(doc.metadata.tools.components[0].name, "kiln");
  const deno = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  assert.equal(doc.metadata.component.version, deno.version);
  // kiln's real lock: every npm package of it is a component with its purl.
  const lock = parseDenoLock(Deno.readTextFileSync(new URL("../../deno.lock", import.meta.url)));
  assert.ok(!("reason" in lock));
  const purls = new Set(doc.components.map((c: any) => c.purl).filter(Boolean));
  for (const p of lock.packages) assert.ok(purls.has(npmPurl(p.name, p.version)), p.key);
  assert.ok(
    purls.has(npmPurl("openpgp", lock.packages.find((p) => p.name === "openpgp")!.version)),
  );

  // The check can fail: a document out of shape is rejected.
  doc.components[0].hashes[0].alg = "SHA-999";
  assert.ok(!validate(doc));
  delete doc.bomFormat;
  assert.ok(!validate(doc));
});

Deno.test("buildSbom() lists released files with both hashes and npm packages with purl, hash and graph", () => {
  const validate = cyclonedx16Validator();
  const text = buildSbom({
    files: FILES,
    date: new Date(0),
    lockText: LOCK,
    kilnVersion: "9.9.9",
    subject: { name: "acme-os", version: "2.0" },
  }) as string;
  const doc = JSON.parse(text);
  assert.ok(validate(doc), validate.errors());
  const files = doc.components.filter((c: any) => c.type === "file");
  assert.deepEqual(files.map((c: any) => c.name), ["disk.qcow2", "kiln_0.1.0_amd64.deb"]);
  assert.deepEqual(files[1].hashes, [
    { alg: "SHA-256", content: "a".repeat(64) },
    { alg: "SHA-512", content: "b".repeat(128) },
  ]);
  const libs = doc.components.filter((c: any) => c.type === "library");
  // The package locked twice (against different peers) is one component.
  assert.deepEqual(libs.map((c: any) => c.purl), [
    "pkg:npm/%40cyclonedx/cyclonedx-library@10.3.0",
    "pkg:npm/%40dagrejs/dagre@1.1.8",
    "pkg:npm/%40dagrejs/graphlib@2.2.4",
    "pkg:npm/ajv@8.20.0",
    "pkg:npm/zod@3.25.76",
  ]);
  const dagre = libs.find((c: any) => c.name === "dagre");
  assert.equal(dagre.group, "@dagrejs");
  assert.deepEqual(dagre.hashes, [{
    alg: "SHA-512",
    content: "e5210396776de16fcb695ccf6095be6d299211973d1334dff2b276d1608abe34" +
      "b91006403746fec74630c3b54c4f84775a8a2d920f97f5b51f5316b3630e8197",
  }]);
  // A sha1 or malformed integrity is not carried over as SHA-512.
  assert.equal(libs.find((c: any) => c.name === "graphlib").hashes, undefined);
  assert.equal(libs.find((c: any) => c.name === "ajv").hashes, undefined);
  assert.deepEqual(doc.metadata.component, {
    type: "application",
    name: "acme-os",
    version: "2.0",
    "bom-ref": "release:acme-os@2.0",
  });
  assert.equal(doc.metadata.tools.components[0].version, "9.9.9");
  const deps = Object.fromEntries(doc.dependencies.map((d: any) => [d.ref, d.dependsOn ?? []]));
  assert.deepEqual(deps["release:acme-os@2.0"], [
    "pkg:npm/%40cyclonedx/cyclonedx-library@10.3.0",
    "pkg:npm/%40dagrejs/dagre@1.1.8",
    "pkg:npm/zod@3.25.76",
  ]);
  assert.deepEqual(deps["pkg:npm/%40dagrejs/dagre@1.1.8"], ["pkg:npm/%40dagrejs/graphlib@2.2.4"]);
  assert.deepEqual(deps["pkg:npm/%40cyclonedx/cyclonedx-library@10.3.0"], ["pkg:npm/ajv@8.20.0"]);
});

Deno.test("buildSbom() is reproducible: same inputs, same bytes and serial; other inputs, other serial", () => {
  const opts = { files: FILES, date: new Date(0), lockText: LOCK, kilnVersion: "1.0.0" };
  const a = buildSbom(opts) as string;
  const b = buildSbom({ ...opts, files: [...FILES].reverse() }) as string;
  assert.equal(a, b);
  const serial = JSON.parse(a).serialNumber;
  assert.match(
    serial,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  const c = buildSbom({ ...opts, date: new Date(1000) }) as string;
  assert.notEqual(JSON.parse(c).serialNumber, serial);
  assert.ok(!a.includes("BomRef."), "every bom-ref is derived, none random");
});

Deno.test("parseDenoLock() fails with sbom-lock-invalid on a lock without an npm section", () => {
  const r = parseDenoLock('{"version":"5"}');
  assert.ok("reason" in r && r.reason === "sbom-lock-invalid");
  const junk = buildSbom({ files: [], date: new Date(0), lockText: "{" });
  assert.ok(typeof junk !== "string" && junk.reason === "sbom-lock-invalid");
});
