import assert from "node:assert/strict";
import { resolve } from "node:path";
import { APT_SIGNING_KEY_WEAK, checkAptSigningKey } from "../../apt/mod.ts";
import { readSigningKey } from "../../signing/key.ts";
import { testSigningKey } from "../rig/signing_key.ts";

const TMP = resolve("test/.tmp");

Deno.test("checkAptSigningKey() accepts Ed25519 and RSA 4096 keys with SHA-512 bindings", async () => {
  assert.equal(await checkAptSigningKey(await testSigningKey()), null);
  assert.equal(await checkAptSigningKey(await testSigningKey({ rsa: true })), null);
});

Deno.test("checkAptSigningKey() refuses a key whose user ID binding is SHA-1", async () => {
  Deno.mkdirSync(TMP, { recursive: true });
  const home = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-weak-key-" });
  const env = { GNUPGHOME: home };
  const gpg = (args: string[]) =>
    new Deno.Command("gpg", {
      args: ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    Deno.chmodSync(home, 0o700);
    // What old GnuPG made by default: an RSA key whose self-signature uses SHA-1.
    const made = await gpg([
      "--cert-digest-algo",
      "SHA1",
      "--quick-gen-key",
      "old <o@kiln.invalid>",
      "rsa2048",
      "sign",
      "never",
    ]);
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    const exported = await gpg(["--armor", "--export-secret-keys"]);
    const key = await readSigningKey(new TextDecoder().decode(exported.stdout), "old key");
    assert.ok(!("reason" in key), "reason" in key ? key.message : "");
    const f = await checkAptSigningKey(key);
    assert.ok(f);
    assert.equal(f.reason, APT_SIGNING_KEY_WEAK);
    assert.match(
      f.message,
      /binds its user ID with a SHA1 signature, which apt's sqv rejects; make a new key/,
    );
  } finally {
    await new Deno.Command("gpgconf", { args: ["--kill", "gpg-agent"], env }).output();
    Deno.removeSync(home, { recursive: true });
  }
});
