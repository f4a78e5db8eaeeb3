import assert from "node:assert/strict";
import {
  canonicalJson,
  diffFingerprints,
  type Fingerprint,
  FINGERPRINT_VERSION,
  makeFingerprint,
  serializeFingerprint,
} from "../../engine/fingerprint.ts";

/** A 64-hex-digit digest made of one repeated character. */
const D = (c: string) => c.repeat(64);

type Parts = Omit<Fingerprint, "v">;

function base(over: Partial<Parts> = {}): Fingerprint {
  return makeFingerprint({
    id: "t",
    action: { cmd: "cc -o out/app src/main.c" },
    params: { opt: 2, flags: ["-Wall"] },
    env: { CC: "gcc", LANG: null },
    tools: { gcc: "gcc 13.2.0" },
    platform: null,
    inputs: [["src/main.c", D("1")], ["src/util.c", D("2")]],
    deps: [["gen", [["gen/a.h", D("3")]]]],
    ...over,
  });
}

Deno.test("canonicalJson() sorts object keys at every level and keeps array order", () => {
  const v = { b: 1, a: { d: [{ z: 1, y: [2, 1] }, "s"], c: null }, "é": true };
  assert.equal(canonicalJson(v), '{"a":{"c":null,"d":[{"y":[2,1],"z":1},"s"]},"b":1,"é":true}');
});

Deno.test("canonicalJson() serializes equal values identically when keys were inserted in different orders", () => {
  const x = { p: { x: 1, y: [1, { k: "v", j: "w" }] }, q: "q" };
  const y = { q: "q", p: { y: [1, { j: "w", k: "v" }], x: 1 } };
  assert.equal(canonicalJson(x), canonicalJson(y));
  assert.notEqual(JSON.stringify(x), JSON.stringify(y), "the inputs really differ in order");
  assert.equal(canonicalJson("s"), '"s"');
  assert.equal(canonicalJson(null), "null");
  assert.equal(canonicalJson([]), "[]");
});

Deno.test("makeFingerprint() serializes identically when the same content is given in different orders", () => {
  const a = makeFingerprint({
    id: "t",
    action: { cmd: "x" },
    params: { z: 1, a: { y: 2, b: [3, { k: 1, j: 2 }] } },
    env: { B: "2", A: "1", C: null },
    tools: { zig: "0.13", as: "2.42" },
    platform: { os: "linux", arch: "x86_64" },
    inputs: [["src/b.txt", D("b")], ["src/a.txt", D("a")], ["src/c/d.txt", D("c")]],
    deps: [
      ["z-dep", [["out/z2", D("e")], ["out/z1", D("f")]]],
      ["a-dep", [["out/a", D("9")]]],
    ],
  });
  const b = makeFingerprint({
    id: "t",
    action: { cmd: "x" },
    params: { a: { b: [3, { j: 2, k: 1 }], y: 2 }, z: 1 },
    env: { C: null, A: "1", B: "2" },
    tools: { as: "2.42", zig: "0.13" },
    platform: { os: "linux", arch: "x86_64" },
    inputs: [["src/c/d.txt", D("c")], ["src/a.txt", D("a")], ["src/b.txt", D("b")]],
    deps: [
      ["a-dep", [["out/a", D("9")]]],
      ["z-dep", [["out/z1", D("f")], ["out/z2", D("e")]]],
    ],
  });
  assert.equal(serializeFingerprint(a), serializeFingerprint(b));
  assert.equal(a.v, FINGERPRINT_VERSION);
  assert.deepEqual(a.inputs.map(([p]) => p), ["src/a.txt", "src/b.txt", "src/c/d.txt"]);
  assert.deepEqual(a.deps.map(([id]) => id), ["a-dep", "z-dep"]);
  assert.deepEqual(a.deps[1][1].map(([p]) => p), ["out/z1", "out/z2"]);
  assert.deepEqual(Object.keys(a.env), ["A", "B", "C"]);
  assert.deepEqual(Object.keys(a.tools), ["as", "zig"]);
});

Deno.test("makeFingerprint() serializes differently when any value differs", () => {
  const ref = serializeFingerprint(base());
  const variants: Partial<Parts>[] = [
    { id: "t2" },
    { action: { cmd: "cc -O3 -o out/app src/main.c" } },
    { params: { opt: 3, flags: ["-Wall"] } },
    { params: { opt: 2, flags: ["-Wall"], extra: null } },
    { env: { CC: "gcc", LANG: "C" } },
    { tools: { gcc: "gcc 14.1.0" } },
    { platform: { os: "linux", arch: "aarch64" } },
    { inputs: [["src/main.c", D("1")], ["src/util.c", D("9")]] },
    { inputs: [["src/main.c", D("1")]] },
    { deps: [["gen", [["gen/a.h", D("4")]]]] },
    { deps: [] },
  ];
  for (const v of variants) {
    assert.notEqual(serializeFingerprint(base(v)), ref, JSON.stringify(v));
  }
});

Deno.test("makeFingerprint() does not modify the lists it is given", () => {
  const inputs: [string, string][] = [["b", D("b")], ["a", D("a")]];
  makeFingerprint({
    id: "t",
    action: { cmd: "x" },
    params: {},
    env: {},
    tools: {},
    platform: null,
    inputs,
    deps: [],
  });
  assert.deepEqual(inputs.map(([p]) => p), ["b", "a"]);
});

Deno.test("diffFingerprints() says there is no previous run when before is null", () => {
  assert.deepEqual(diffFingerprints(null, base()), ["no previous run recorded"]);
});

Deno.test("diffFingerprints() returns no lines when fingerprints are equal", () => {
  assert.deepEqual(diffFingerprints(base(), base()), []);
});

Deno.test("diffFingerprints() names a changed input with short digests", () => {
  const now = base({ inputs: [["src/main.c", D("1")], ["src/util.c", D("a")]] });
  assert.deepEqual(diffFingerprints(base(), now), [
    'input "src/util.c" changed (222222222222 -> aaaaaaaaaaaa)',
  ]);
});

Deno.test("diffFingerprints() names added and removed inputs", () => {
  const now = base({ inputs: [["src/main.c", D("1")], ["src/new.c", D("5")]] });
  assert.deepEqual(diffFingerprints(base(), now), [
    'input "src/new.c" added',
    'input "src/util.c" removed',
  ]);
});

Deno.test("diffFingerprints() names a changed env value, showing unset for null", () => {
  const now = base({ env: { CC: "clang", LANG: "C.UTF-8" } });
  assert.deepEqual(diffFingerprints(base(), now), [
    'env CC changed ("gcc" -> "clang")',
    'env LANG changed (unset -> "C.UTF-8")',
  ]);
  assert.deepEqual(diffFingerprints(base(), base({ env: { LANG: null } })), [
    'env CC changed ("gcc" -> unset)',
  ]);
});

Deno.test("diffFingerprints() names a changed tool version", () => {
  assert.deepEqual(diffFingerprints(base(), base({ tools: { gcc: "gcc 14.1.0" } })), [
    'tool gcc changed ("gcc 13.2.0" -> "gcc 14.1.0")',
  ]);
});

Deno.test("diffFingerprints() names a changed, added or nested parameter", () => {
  const now = base({ params: { opt: 3, flags: ["-Wall", "-O2"], mode: "release" } });
  assert.deepEqual(diffFingerprints(base(), now), [
    // Parameters are in canonical (sorted) order.
    'param flags changed (["-Wall"] -> ["-Wall","-O2"])',
    "param opt changed (2 -> 3)",
    'param mode changed (unset -> "release")',
  ]);
});

Deno.test("diffFingerprints() ignores key order inside a parameter object", () => {
  const a = base({ params: { o: { x: 1, y: 2 } } });
  const b = base({ params: { o: { y: 2, x: 1 } } });
  assert.deepEqual(diffFingerprints(a, b), []);
});

Deno.test("diffFingerprints() names a changed command", () => {
  assert.deepEqual(diffFingerprints(base(), base({ action: { cmd: "make" } })), [
    'command changed ("cc -o out/app src/main.c" -> "make")',
  ]);
});

Deno.test("diffFingerprints() names a changed module, its code, or its version", () => {
  const fnA = { module: "pipeline/iso.ts", digest: D("a"), version: null };
  const before = base({ action: fnA });
  assert.deepEqual(diffFingerprints(before, base({ action: { ...fnA, digest: D("b") } })), [
    'module "pipeline/iso.ts" code changed',
  ]);
  assert.deepEqual(
    diffFingerprints(before, base({ action: { ...fnA, module: "pipeline/img.ts" } })),
    ['module changed ("pipeline/iso.ts" -> "pipeline/img.ts")'],
  );
  assert.deepEqual(diffFingerprints(before, base({ action: { ...fnA, version: "2" } })), [
    'action version changed (unset -> "2")',
  ]);
  assert.deepEqual(diffFingerprints(before, base()), ["action kind changed"]);
});

Deno.test("diffFingerprints() names a changed dependency output", () => {
  const now = base({ deps: [["gen", [["gen/a.h", D("c")]]]] });
  assert.deepEqual(diffFingerprints(base(), now), [
    'dependency "gen" output "gen/a.h" changed (333333333333 -> cccccccccccc)',
  ]);
  const more = base({ deps: [["gen", [["gen/a.h", D("3")], ["gen/b.h", D("4")]]]] });
  assert.deepEqual(diffFingerprints(base(), more), ['dependency "gen" output "gen/b.h" added']);
});

Deno.test("diffFingerprints() names added and removed dependencies", () => {
  const now = base({ deps: [["lib", [["lib/x.a", D("7")]]]] });
  assert.deepEqual(diffFingerprints(base(), now), [
    'dependency "lib" added',
    'dependency "gen" removed',
  ]);
});

Deno.test("diffFingerprints() names platform and format version changes", () => {
  const now = base({ platform: { os: "linux", arch: "x86_64" } });
  assert.deepEqual(diffFingerprints(base(), now), [
    'platform changed (unset -> {"os":"linux","arch":"x86_64"})',
  ]);
  const old = { ...base(), v: FINGERPRINT_VERSION - 1 };
  assert.deepEqual(diffFingerprints(old, base()), [
    `fingerprint format changed (v${FINGERPRINT_VERSION - 1} -> v${FINGERPRINT_VERSION})`,
  ]);
});

Deno.test("diffFingerprints() lists every change when several parts differ", () => {
  const now = base({
    action: { cmd: "make" },
    env: { CC: "clang", LANG: null },
    inputs: [["src/main.c", D("1")]],
  });
  assert.deepEqual(diffFingerprints(base(), now), [
    'command changed ("cc -o out/app src/main.c" -> "make")',
    'env CC changed ("gcc" -> "clang")',
    'input "src/util.c" removed',
  ]);
});
