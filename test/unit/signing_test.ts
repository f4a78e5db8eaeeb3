import assert from "node:assert/strict";
import { clearsign, signDetached } from "../../signing/sign.ts";
import { readSigningKey } from "../../signing/key.ts";
import * as openpgp from "openpgp";
import { testSigningKey, writeKeyring } from "../rig/signing_key.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

async function gpgv(args: string[]): Promise<{ code: number; err: string }> {
  const r = await new Deno.Command("gpgv", { args, stderr: "piped", stdout: "null" }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

Deno.test("signDetached() makes a SHA-512 signature that gpgv accepts and a changed file fails", async () => {
  const key = await testSigningKey();
  const dir = await makeTmp("sign-");
  try {
    await writeKeyring(key, `${dir}/ring.gpg`);
    await Deno.writeTextFile(`${dir}/SUMS`, "abc  file\n");
    await Deno.writeTextFile(`${dir}/SUMS.asc`, await signDetached(key, "abc  file\n"));
    const ok = await gpgv(["--keyring", `${dir}/ring.gpg`, `${dir}/SUMS.asc`, `${dir}/SUMS`]);
    assert.equal(ok.code, 0, ok.err);
    const sig = await openpgp.readSignature({
      armoredSignature: Deno.readTextFileSync(`${dir}/SUMS.asc`),
    });
    assert.equal(sig.packets[0].hashAlgorithm, openpgp.enums.hash.sha512);
    await Deno.writeTextFile(`${dir}/SUMS`, "abd  file\n");
    const bad = await gpgv(["--keyring", `${dir}/ring.gpg`, `${dir}/SUMS.asc`, `${dir}/SUMS`]);
    assert.notEqual(bad.code, 0);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("clearsign() wraps text that gpgv verifies when the key is RSA", async () => {
  const key = await testSigningKey({ rsa: true });
  const dir = await makeTmp("sign-");
  try {
    await writeKeyring(key, `${dir}/ring.gpg`);
    const signed = await clearsign(key, "Origin: kiln\nSuite: stable\n");
    assert.match(signed, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n/);
    await Deno.writeTextFile(`${dir}/InRelease`, signed);
    const ok = await gpgv(["--keyring", `${dir}/ring.gpg`, `${dir}/InRelease`]);
    assert.equal(ok.code, 0, ok.err);
    await Deno.writeTextFile(`${dir}/InRelease`, signed.replace("stable", "stabl3"));
    assert.notEqual((await gpgv(["--keyring", `${dir}/ring.gpg`, `${dir}/InRelease`])).code, 0);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("readSigningKey() fails with signing-key-invalid when the passphrase is wrong or missing", async () => {
  const { privateKey } = await openpgp.generateKey({
    type: "ecc",
    curve: "ed25519Legacy",
    userIDs: [{ name: "locked" }],
    passphrase: "right",
    format: "armored",
  });
  const missing = await readSigningKey(privateKey, "KILN_SIGNING_KEY");
  assert.ok("reason" in missing && missing.reason === "signing-key-invalid");
  assert.match(missing.message, /KILN_SIGNING_KEY_PASSPHRASE/);
  const wrong = await readSigningKey(privateKey, "KILN_SIGNING_KEY", "wrong");
  assert.ok("reason" in wrong && /did not unlock/.test(wrong.message));
  assert.ok(!wrong.message.includes("PRIVATE KEY"));
  const right = await readSigningKey(privateKey, "KILN_SIGNING_KEY", "right");
  assert.ok(!("reason" in right) && right.fingerprint.length === 40);
  const junk = await readSigningKey("not a key", "key.asc");
  assert.ok("reason" in junk && /key\.asc/.test(junk.message));
});
