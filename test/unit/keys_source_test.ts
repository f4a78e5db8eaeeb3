import assert from "node:assert/strict";
import { generateRepositoryKey } from "../../signing/generate.ts";
import { resolveSigningKey, scrub, THROWAWAY_KEY_PATH } from "../../signing/key_source.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const why = (r: object) => ("message" in r ? String(r.message) : "");
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];
const newKey = (name: string, extra: { passphrase?: string; expiresInDays?: number } = {}) =>
  generateRepositoryKey({ name, algorithm: "ed25519", ...extra });

/** Every line of the armored key that carries key material (not the armor header/footer). */
function keyLines(armored: string): string[] {
  return armored.split("\n").map((l) => l.trim()).filter((l) =>
    l.length >= 8 && !l.startsWith("-----")
  );
}

function assertNoSecret(message: string, secrets: string[]): void {
  for (const s of secrets) {
    for (const line of keyLines(s)) assert.ok(!message.includes(line), `secret leaked: ${message}`);
  }
  assert.ok(!message.includes("PRIVATE KEY BLOCK"), message);
}

Deno.test("resolveSigningKey() prefers --signing-key, then KILN_SIGNING_KEY_FILE, then KILN_SIGNING_KEY", async () => {
  const ws = await makeTmp("keys-source-");
  try {
    const [a, b, c] = await Promise.all([
      newKey("flag key"),
      newKey("file key"),
      newKey("env key"),
    ]);
    await Deno.writeTextFile(`${ws}/a.asc`, a.privateArmored);
    await Deno.writeTextFile(`${ws}/b.asc`, b.privateArmored);
    const all = { KILN_SIGNING_KEY_FILE: `${ws}/b.asc`, KILN_SIGNING_KEY: c.privateArmored };

    const flag = await resolveSigningKey({ workspace: ws, keyFile: "a.asc", env: envOf(all) });
    assert.ok(!("reason" in flag), why(flag));
    assert.equal(flag.key.fingerprint, a.fingerprint);
    assert.deepEqual([flag.source, flag.name, flag.warning], ["file", "a.asc", null]);

    const file = await resolveSigningKey({ workspace: ws, env: envOf(all) });
    assert.ok(!("reason" in file));
    assert.equal(file.key.fingerprint, b.fingerprint);
    assert.equal(file.source, "file");

    const env = await resolveSigningKey({
      workspace: ws,
      env: envOf({ KILN_SIGNING_KEY: c.privateArmored }),
    });
    assert.ok(!("reason" in env));
    assert.deepEqual([env.key.fingerprint, env.source, env.name], [
      c.fingerprint,
      "env",
      "KILN_SIGNING_KEY",
    ]);
    assert.ok(!JSON.stringify({ ...env, key: undefined }).includes("PRIVATE"));

    const none = await resolveSigningKey({ workspace: ws, env: envOf({}) });
    assert.ok(!("reason" in none));
    assert.equal(none.source, "throwaway");
    assert.ok(![a, b, c].some((k) => k.fingerprint === none.key.fingerprint));
  } finally {
    await removeTree(ws);
  }
});

Deno.test("resolveSigningKey() unlocks with KILN_SIGNING_KEY_PASSPHRASE and never quotes key or passphrase", async () => {
  const ws = await makeTmp("keys-source-");
  try {
    const passphrase = "correct horse battery staple";
    const locked = await newKey("locked", { passphrase });
    const vars = { KILN_SIGNING_KEY: locked.privateArmored };
    const secrets = [locked.privateArmored];

    const missing = await resolveSigningKey({ workspace: ws, env: envOf(vars) });
    assert.ok("reason" in missing && missing.reason === "signing-key-invalid");
    assert.match(missing.message, /KILN_SIGNING_KEY_PASSPHRASE/);
    assertNoSecret(missing.message, secrets);

    const wrong = await resolveSigningKey({
      workspace: ws,
      env: envOf({ ...vars, KILN_SIGNING_KEY_PASSPHRASE: "wrong passphrase" }),
    });
    assert.ok("reason" in wrong && wrong.reason === "signing-key-invalid");
    assertNoSecret(wrong.message, secrets);
    assert.ok(!wrong.message.includes("wrong passphrase"));

    const right = await resolveSigningKey({
      workspace: ws,
      env: envOf({ ...vars, KILN_SIGNING_KEY_PASSPHRASE: passphrase }),
    });
    assert.ok(!("reason" in right), why(right));
    assert.equal(right.key.fingerprint, locked.fingerprint);

    // Damaged key text: the parser's complaint must not carry the text into the message.
    const damaged = locked.privateArmored.replace(/\n([A-Za-z0-9+/]{20})/, "\n!!$1");
    const bad = await resolveSigningKey({
      workspace: ws,
      env: envOf({ KILN_SIGNING_KEY: damaged }),
    });
    assert.ok("reason" in bad && bad.reason === "signing-key-invalid");
    assertNoSecret(bad.message, [damaged]);

    // A path put in KILN_SIGNING_KEY by mistake gets a hint, not an echo of the value.
    const path = await resolveSigningKey({
      workspace: ws,
      env: envOf({ KILN_SIGNING_KEY: "/secret/location/key.asc" }),
    });
    assert.ok("reason" in path && /KILN_SIGNING_KEY_FILE/.test(path.message));
    assert.ok(!path.message.includes("/secret/location"));
  } finally {
    await removeTree(ws);
  }
});

Deno.test("resolveSigningKey() makes one throwaway key per workspace, mode 0600, and reuses it", async () => {
  const ws = await makeTmp("keys-source-");
  try {
    // Two builds starting at once agree on one key.
    const [first, second] = await Promise.all([
      resolveSigningKey({ workspace: ws, env: envOf({}) }),
      resolveSigningKey({ workspace: ws, env: envOf({}) }),
    ]);
    assert.ok(!("reason" in first) && !("reason" in second));
    assert.equal(first.key.fingerprint, second.key.fingerprint);
    assert.deepEqual([first.source, first.name], ["throwaway", THROWAWAY_KEY_PATH]);
    const stat = await Deno.stat(`${ws}/${THROWAWAY_KEY_PATH}`);
    assert.equal(stat.mode! & 0o777, 0o600);
    const later = await resolveSigningKey({ workspace: ws, env: envOf({}) });
    assert.ok(!("reason" in later));
    assert.equal(later.key.fingerprint, first.key.fingerprint);
    assert.deepEqual([...Deno.readDirSync(`${ws}/.kiln`)].map((e) => e.name), [
      "throwaway-signing-key.asc",
    ]);

    const strict = await resolveSigningKey({
      workspace: ws,
      env: envOf({}),
      allowThrowaway: false,
    });
    assert.ok("reason" in strict && strict.reason === "signing-key-missing");
    assert.match(strict.message, /KILN_SIGNING_KEY_FILE/);
  } finally {
    await removeTree(ws);
  }
});

Deno.test("resolveSigningKey() fails with signing-key-missing for a missing key file and warns near expiry", async () => {
  const ws = await makeTmp("keys-source-");
  try {
    const gone = await resolveSigningKey({
      workspace: ws,
      env: envOf({ KILN_SIGNING_KEY_FILE: "keys/release.asc" }),
    });
    assert.ok("reason" in gone && gone.reason === "signing-key-missing");
    assert.match(gone.message, /"keys\/release\.asc" \(from KILN_SIGNING_KEY_FILE\)/);

    const soon = await newKey("soon", { expiresInDays: 10 });
    await Deno.writeTextFile(`${ws}/soon.asc`, soon.privateArmored);
    const r = await resolveSigningKey({ workspace: ws, keyFile: `${ws}/soon.asc`, env: envOf({}) });
    assert.ok(!("reason" in r));
    assert.ok(r.warning?.includes(soon.fingerprint), String(r.warning));
    assert.match(r.warning!, /expires on \d{4}-\d\d-\d\d \(in (9|10) days\)/);
    const far = await resolveSigningKey({
      workspace: ws,
      keyFile: `${ws}/soon.asc`,
      env: envOf({}),
      now: new Date(Date.now() - 60 * 86400_000),
    });
    assert.ok(!("reason" in far) && far.warning === null);
  } finally {
    await removeTree(ws);
  }
});

Deno.test("scrub() replaces every line of a secret in a message", () => {
  const secret = "-----BEGIN X-----\nAAAAbbbbCCCCdddd\nEEEEffff\n-----END X-----";
  assert.equal(
    scrub("bad input AAAAbbbbCCCCdddd at EEEEffff", [secret]),
    "bad input [redacted] at [redacted]",
  );
  assert.equal(scrub("short abc stays", ["abc"]), "short abc stays");
});
