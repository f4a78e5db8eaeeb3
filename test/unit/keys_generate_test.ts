import assert from "node:assert/strict";
import { parseExpires } from "../../cli/keys_cmd.ts";
import { expiryWarning } from "../../signing/expiry.ts";
import { generateRepositoryKey, writeKeyFiles } from "../../signing/generate.ts";
import { readSigningKey } from "../../signing/key.ts";
import { signDetached } from "../../signing/sign.ts";
import { resolveSigningKey } from "../../signing/key_source.ts";
import { kiln, makeTmp, removeTree } from "../rig/workspace.ts";
import { runGpg } from "../rig/gpg.ts";

const DAY = 86400_000;

/** `gpg --list-packets` (and friends) with a private GnuPG home, so /root/.gnupg is untouched. */
const gpg = runGpg;

/** Public key algorithm and signature digest algorithms (RFC 4880 ids) from `--list-packets`. */
function packetFacts(listing: string) {
  const algos = [...listing.matchAll(/:public key packet:\n\s+version (\d+), algo (\d+)/g)];
  const digests = [...listing.matchAll(/digest algo (\d+)/g)].map((m) => Number(m[1]));
  return { version: algos.map((m) => Number(m[1])), algo: algos.map((m) => Number(m[2])), digests };
}

/** Signs with `armored` and checks the signature with gpgv against `publicArmored`. */
async function signsForGpgv(dir: string, armored: string, publicArmored: string) {
  const key = await readSigningKey(armored, "generated key");
  if ("reason" in key) throw new Error(key.message);
  const home = `${dir}/gnupg-verify`;
  const imp = await gpg(
    home,
    ["--dearmor", "--output", `${dir}/ring.gpg`],
    new TextEncoder().encode(publicArmored),
  );
  assert.equal(imp.code, 0, imp.err);
  await Deno.writeTextFile(`${dir}/data`, "release\n");
  await Deno.writeTextFile(`${dir}/data.asc`, await signDetached(key, "release\n"));
  const v = await new Deno.Command("gpgv", {
    args: ["--keyring", `${dir}/ring.gpg`, `${dir}/data.asc`, `${dir}/data`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(v.code, 0, new TextDecoder().decode(v.stderr));
}

Deno.test("generateRepositoryKey() makes a v4 Ed25519 key with SHA-512 bindings that gpgv accepts", async () => {
  const dir = await makeTmp("keys-gen-");
  try {
    const k = await generateRepositoryKey({
      name: "Acme release",
      email: "release@acme.example",
      algorithm: "ed25519",
      expiresInDays: 365,
    });
    assert.match(k.fingerprint, /^[0-9A-F]{40}$/);
    assert.equal(k.userId, "Acme release <release@acme.example>");
    assert.ok(k.expires && Math.abs(k.expires.getTime() - Date.now() - 365 * DAY) < 60_000);
    await Deno.writeTextFile(`${dir}/pub.asc`, k.publicArmored);
    const list = await gpg(`${dir}/gnupg`, ["--list-packets", `${dir}/pub.asc`]);
    assert.equal(list.code, 0, list.err);
    const facts = packetFacts(list.out);
    assert.deepEqual(facts.version, [4], list.out); // primary only: the subkey is a "sub key packet"
    assert.deepEqual(facts.algo, [22], list.out); // EdDSA (legacy Ed25519), not RFC 9580's 27
    assert.equal(facts.digests.length, 2, list.out); // user ID self-signature + subkey binding
    assert.ok(facts.digests.every((d) => d === 10), `SHA-512 (10): ${facts.digests}`);
    const show = await gpg(`${dir}/gnupg`, ["--with-colons", "--show-keys", `${dir}/pub.asc`]);
    assert.match(show.out, new RegExp(`^fpr:+${k.fingerprint}:`, "m"));
    await signsForGpgv(dir, k.privateArmored, k.publicArmored);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("generateRepositoryKey() makes an RSA 4096 key with SHA-256+ bindings, locked by a passphrase", async () => {
  const dir = await makeTmp("keys-gen-");
  try {
    const k = await generateRepositoryKey({
      name: "Acme",
      algorithm: "rsa4096",
      passphrase: "s3cret words",
    });
    assert.equal(k.expires, null);
    await Deno.writeTextFile(`${dir}/pub.asc`, k.publicArmored);
    const list = await gpg(`${dir}/gnupg`, ["--list-packets", `${dir}/pub.asc`]);
    const facts = packetFacts(list.out);
    assert.deepEqual(facts.algo, [1], list.out);
    assert.match(list.out, /pkey\[0\]: \[4096 bits\]/);
    assert.ok(facts.digests.length === 2 && facts.digests.every((d) => d >= 8), list.out);
    const locked = await readSigningKey(k.privateArmored, "rsa key");
    assert.ok("reason" in locked && /passphrase/.test(locked.message));
    const unlocked = await readSigningKey(k.privateArmored, "rsa key", "s3cret words");
    assert.ok(!("reason" in unlocked) && unlocked.fingerprint === k.fingerprint);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("writeKeyFiles() writes the private key 0600 and never overwrites a key", async () => {
  const dir = await makeTmp("keys-gen-");
  try {
    const k = await generateRepositoryKey({ name: "a", algorithm: "ed25519" });
    const r = await writeKeyFiles(`${dir}/k.asc`, k);
    assert.ok(!("reason" in r));
    assert.equal((await Deno.stat(`${dir}/k.asc`)).mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(`${dir}/k.asc.pub.asc`), k.publicArmored);
    const other = await generateRepositoryKey({ name: "b", algorithm: "ed25519" });
    const again = await writeKeyFiles(`${dir}/k.asc`, other);
    assert.ok("reason" in again && again.reason === "key-file-exists");
    assert.equal(await Deno.readTextFile(`${dir}/k.asc`), k.privateArmored);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "k.asc",
      "k.asc.pub.asc",
    ]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("kiln keys generate writes a 0600 key, prints fingerprint and expiry, never the key", async () => {
  const dir = await makeTmp("keys-cli-");
  try {
    const out = `${dir}/release.asc`;
    const opts = { cacheDir: `${dir}/cache`, env: { KILN_SIGNING_KEY_PASSPHRASE: "" } };
    const r = await kiln(
      [
        "keys",
        "generate",
        "--out",
        out,
        "--name",
        "Acme",
        "--email",
        "r@acme.example",
        "--expires",
        "20d",
      ],
      opts,
    );
    assert.equal(r.code, 0, r.stderr);
    const fpr = /fingerprint: ([0-9A-F]{40})/.exec(r.stdout)?.[1];
    assert.ok(fpr, r.stdout);
    assert.match(r.stdout, /algorithm: +Ed25519/);
    const expires = new Date(Date.now() + 20 * DAY).toISOString().slice(0, 10);
    assert.match(r.stdout, new RegExp(`expires: +${expires}`));
    assert.ok(r.stdout.includes(`KILN_SIGNING_KEY_FILE=${out}`), r.stdout);
    const privateText = await Deno.readTextFile(out);
    for (
      const line of privateText.split("\n").filter((l) => l.length >= 8 && !l.startsWith("-----"))
    ) {
      assert.ok(!r.stdout.includes(line) && !r.stderr.includes(line), "private key printed");
    }
    assert.ok(!(r.stdout + r.stderr).includes("PRIVATE KEY"));
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);

    const list = await gpg(`${dir}/gnupg`, ["--list-packets", `${out}.pub.asc`]);
    assert.equal(list.code, 0, list.err);
    const facts = packetFacts(list.out);
    assert.deepEqual(facts.algo, [22]);
    assert.ok(facts.digests.length === 2 && facts.digests.every((d) => d >= 8), list.out);
    assert.match(list.out, /key expires after 20d/);

    // A build with this key warns: it expires within 30 days.
    const key = await resolveSigningKey({ workspace: dir, keyFile: out, env: () => undefined });
    assert.ok(!("reason" in key) && key.key.fingerprint === fpr);
    assert.match(key.warning ?? "", new RegExp(`Signing key ${fpr} expires on ${expires}`));

    // No overwrite: exit 2 and the first key stays.
    const again = await kiln(["keys", "generate", "--out", out], opts);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
    assert.equal(await Deno.readTextFile(out), privateText);
    const bad = await kiln(
      ["keys", "generate", "--out", `${dir}/x.asc`, "--expires", "soon"],
      opts,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Expiry "soon" is not valid/);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("kiln keys generate encrypts the key with KILN_SIGNING_KEY_PASSPHRASE", async () => {
  const dir = await makeTmp("keys-cli-");
  try {
    const out = `${dir}/k.asc`;
    const r = await kiln(["keys", "generate", "--out", out, "--expires", "never"], {
      cacheDir: `${dir}/cache`,
      env: { KILN_SIGNING_KEY_PASSPHRASE: "pass phrase 1" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /expires: +never/);
    assert.ok(!r.stdout.includes("pass phrase 1"));
    const text = await Deno.readTextFile(out);
    assert.ok("reason" in await readSigningKey(text, "k"));
    assert.ok(!("reason" in await readSigningKey(text, "k", "pass phrase 1")));
  } finally {
    await removeTree(dir);
  }
});

Deno.test("expiryWarning() warns within 30 days and after expiry, naming fingerprint, date and fix", () => {
  const now = new Date("2025-03-01T00:00:00Z");
  const key = (days: number | null) => ({
    fingerprint: "ABCD".repeat(10),
    expires: days === null ? null : new Date(now.getTime() + days * DAY),
  });
  assert.equal(expiryWarning(key(null), now), null);
  assert.equal(expiryWarning(key(31), now), null);
  const soon = expiryWarning(key(29), now);
  assert.equal(
    soon,
    `Signing key ${"ABCD".repeat(10)} expires on 2025-03-30 (in 29 days); extend it with ` +
      `"gpg --quick-set-expire ${"ABCD".repeat(10)} 1y" and republish the public key, or make a ` +
      `new one with "kiln keys generate"`,
  );
  assert.match(expiryWarning(key(30), now)!, /in 30 days/);
  assert.match(
    expiryWarning(key(-2), now)!,
    /expired on 2025-02-27; signatures made with it do not verify/,
  );
});

Deno.test("parseExpires() reads years, weeks, days and never", () => {
  assert.equal(parseExpires("2y"), 730);
  assert.equal(parseExpires("8w"), 56);
  assert.equal(parseExpires("365d"), 365);
  assert.equal(parseExpires("never"), 0);
  for (const bad of ["", "0d", "2", "1.5y", "-1d", "2 y"]) {
    assert.equal(parseExpires(bad), null, bad);
  }
});
