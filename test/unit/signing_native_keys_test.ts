import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import * as openpgp from "openpgp";
import { generateRepositoryKey } from "../../signing/generate.ts";
import { readSigningKey, SIGNING_KEY_INVALID } from "../../signing/key.ts";
import { type NativeKey, readNativeKey } from "../../signing/native_key.ts";
import { parseSignature, signaturePacket } from "../../signing/native_sign.ts";
import {
  armor,
  concatBytes,
  dearmor,
  readMpi,
  readPackets,
  u32,
  writePacket,
} from "../../signing/packets.ts";
import { checksum16 } from "../../signing/s2k.ts";
import { clearsign, signDetached } from "../../signing/sign.ts";
import { type GpgRun, runGpg, stopGpgAgent } from "../rig/gpg.ts";
import { assertOpenpgpVerifies } from "../rig/openpgp_check.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const TEXT = "Origin: kiln\nSuite: stable\n";
const PW = "gpg words";
const DAY_MS = 86_400_000;

/** RSA 4096 takes seconds to make: one key, protected by openpgp.js, for every test here. */
const RSA = await generateRepositoryKey({
  name: "kiln rsa",
  email: "rsa@kiln.invalid",
  algorithm: "rsa4096",
  passphrase: "rsa words",
});

/** gpg in `home`, with {@link PW} given through the loopback pinentry. */
const gpg = (home: string, args: string[]): Promise<GpgRun> =>
  runGpg(home, ["--pinentry-mode", "loopback", "--passphrase", PW, ...args]);

/** Runs `body` with a fresh folder and GnuPG home in it; stops its gpg-agent afterwards. */
async function withGnupg(body: (dir: string, home: string) => Promise<void>): Promise<void> {
  const dir = await makeTmp("native-keys-");
  const home = `${dir}/gnupg`;
  try {
    await body(dir, home);
  } finally {
    await stopGpgAgent(home);
    await removeTree(dir);
  }
}

/** The fingerprints of `uid`'s key (primary first), after GnuPG made it when `expire` is given. */
async function gpgKey(home: string, uid: string, expire?: string): Promise<string[]> {
  if (expire) {
    const made = await gpg(home, ["--quick-gen-key", uid, "ed25519", "sign,cert", expire]);
    assert.equal(made.code, 0, made.err);
  }
  const list = await runGpg(home, ["--with-colons", "--list-keys", `=${uid}`]);
  return [...list.out.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
}

async function gpgv(ring: string, files: string[]): Promise<{ code: number; err: string }> {
  const args = ["--keyring", ring, ...files];
  const r = await new Deno.Command("gpgv", { args, stdout: "null", stderr: "piped" }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

/** Where the public fields of a v4 EdDSA or RSA key packet end (the S2K usage octet). */
function publicEnd(body: Uint8Array): number {
  if (body[5] === 22) return readMpi(body, 7 + body[6]).next;
  return readMpi(body, readMpi(body, 6).next).next;
}

Deno.test("readNativeKey() agrees with openpgp.js on fingerprint, user ID and public key when generateRepositoryKey made it", async () => {
  const ed = await generateRepositoryKey({
    name: "kiln ed",
    email: "ed@kiln.invalid",
    algorithm: "ed25519",
    expiresInDays: 30,
  });
  const cases = [
    { g: ed, passphrase: undefined, algorithm: 22, rsaBits: null },
    { g: RSA, passphrase: "rsa words", algorithm: 1, rsaBits: 4096 },
  ];
  for (const { g, passphrase, algorithm, rsaBits } of cases) {
    const k = await readNativeKey(g.privateArmored, passphrase);
    assert.ok("fingerprint" in k, `${g.algorithm}: ${JSON.stringify(k)}`);
    const theirs = await openpgp.readPrivateKey({ armoredKey: g.privateArmored });
    assert.equal(k.fingerprint, theirs.getFingerprint().toUpperCase());
    assert.equal(k.fingerprint, g.fingerprint);
    assert.equal(k.userId, (await theirs.getPrimaryUser()).user.userID?.userID);
    assert.equal(k.userId, g.userId);
    assert.equal(armor("PGP PUBLIC KEY BLOCK", k.publicPackets), theirs.toPublic().armor());
    assert.equal(k.created.getTime(), theirs.getCreationTime().getTime());
    assert.equal(k.expires?.getTime() ?? null, g.expires?.getTime() ?? null);
    assert.deepEqual([k.algorithm, k.rsaBits, k.certHash], [algorithm, rsaBits, 10]);
    await assertOpenpgpVerifies(await openpgp.readKey({ armoredKey: g.publicArmored }), k, TEXT);
  }
  assert.ok(ed.expires && Math.abs(ed.expires.getTime() - Date.now() - 30 * DAY_MS) < 60_000);
});

Deno.test("readNativeKey() unlocks a key openpgp.js protected when the passphrase is right, and only then", async () => {
  for (const type of ["ed25519Legacy", "curve25519"] as const) {
    const { privateKey } = await openpgp.generateKey({
      ...(type === "curve25519" ? { type } : { type: "ecc" as const, curve: type }),
      userIDs: [{ name: "locked", email: "locked@kiln.invalid" }],
      format: "object",
      config: { v6Keys: false },
    });
    const locked = (await openpgp.encryptKey({ privateKey, passphrase: "right" })).armor();
    assert.equal((await openpgp.readPrivateKey({ armoredKey: locked })).isDecrypted(), false);
    const k = await readNativeKey(locked, "right");
    assert.ok("fingerprint" in k, `${type}: ${JSON.stringify(k)}`);
    assert.equal(k.fingerprint, privateKey.getFingerprint().toUpperCase());
    assert.equal(k.algorithm, type === "curve25519" ? 27 : 22); // RFC 9580 Ed25519, or legacy
    assert.equal(k.userId, "locked <locked@kiln.invalid>");
    await assertOpenpgpVerifies(privateKey.toPublic(), k, TEXT);
    assert.deepEqual(await readNativeKey(locked, "wrong"), { wrongPassphrase: true });
    assert.deepEqual(await readNativeKey(locked, ""), { wrongPassphrase: true });
    assert.deepEqual(await readNativeKey(locked), { unsupported: "a passphrase is needed" });
  }
});

/**
 * `fields` (the plain secret MPIs) protected as usage 254 with AES-256 and an iterated, salted
 * SHA-1 S2K, written here from RFC 4880 (openpgp.js, which unlocks it, checks this writer): SHA-1
 * gives 20 bytes, so the key takes a second hash context preloaded with one zero.
 */
function protectAes256Sha1(fields: Uint8Array, passphrase: string): Uint8Array {
  const salt = randomBytes(8);
  const countByte = 0x61; // (16 + 1) << (6 + 6) = 69632 bytes hashed
  const input = concatBytes([salt, new TextEncoder().encode(passphrase)]);
  const repeated = new Uint8Array(69632);
  for (let o = 0; o < repeated.length; o += input.length) {
    repeated.set(input.subarray(0, 69632 - o), o);
  }
  const key = concatBytes(
    [0, 1].map((zeros) =>
      createHash("sha1").update(new Uint8Array(zeros)).update(repeated).digest()
    ),
  ).subarray(0, 32);
  const plain = concatBytes([fields, createHash("sha1").update(fields).digest()]);
  const iv = randomBytes(16);
  const ecb = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  const out = new Uint8Array(plain.length);
  let feed: Uint8Array = iv;
  for (let o = 0; o < plain.length; o += 16) { // CFB: each block XOR the cipher of the last
    const stream = ecb.update(feed);
    for (let i = 0; i < 16 && o + i < plain.length; i++) out[o + i] = plain[o + i] ^ stream[i];
    feed = out.subarray(o, o + 16);
  }
  return concatBytes([[254, 9, 3, 2], salt, [countByte], iv, out]);
}

Deno.test("readNativeKey() unlocks a key when its AES-256 S2K needs two SHA-1 hash contexts", async () => {
  const g = await generateRepositoryKey({ name: "kiln s2k", algorithm: "ed25519" });
  const all = readPackets(dearmor(g.privateArmored, "PGP PRIVATE KEY BLOCK")!);
  const packets = all.slice(0, all.findIndex((p) => p.tag === 7)); // the subkey left clear
  assert.deepEqual(packets.map((p) => p.tag), [5, 13, 2]);
  const body = packets[0].body;
  const end = publicEnd(body);
  assert.equal(body[end], 0);
  const secret = protectAes256Sha1(body.subarray(end + 1, body.length - 2), "two contexts");
  const locked = armor(
    "PGP PRIVATE KEY BLOCK",
    concatBytes([
      writePacket(5, concatBytes([body.subarray(0, end), secret])),
      ...packets.slice(1).map((p) => writePacket(p.tag, p.body)),
    ]),
  );
  const theirs = await openpgp.readPrivateKey({ armoredKey: locked });
  assert.equal(theirs.isDecrypted(), false);
  await openpgp.decryptKey({ privateKey: theirs, passphrase: "two contexts" }); // throws if wrong
  const k = await readNativeKey(locked, "two contexts");
  assert.ok("fingerprint" in k, JSON.stringify(k));
  assert.equal(k.fingerprint, g.fingerprint);
  await assertOpenpgpVerifies(theirs.toPublic(), k, TEXT);
  assert.deepEqual(await readNativeKey(locked, "two context"), { wrongPassphrase: true });
});

Deno.test("readSigningKey() fails with signing-key-invalid when a protected key gets a wrong passphrase or none", async () => {
  const wrong = await readSigningKey(RSA.privateArmored, "KILN_SIGNING_KEY", "wrong");
  assert.ok("reason" in wrong);
  assert.equal(wrong.reason, SIGNING_KEY_INVALID);
  assert.equal(
    wrong.message,
    "Signing key from KILN_SIGNING_KEY did not unlock with the passphrase given; " +
      "check KILN_SIGNING_KEY_PASSPHRASE",
  );
  const none = await readSigningKey(RSA.privateArmored, "KILN_SIGNING_KEY");
  assert.ok("reason" in none);
  assert.equal(none.reason, SIGNING_KEY_INVALID);
  assert.match(none.message, /is protected by a passphrase; set KILN_SIGNING_KEY_PASSPHRASE$/);
  const right = await readSigningKey(RSA.privateArmored, "KILN_SIGNING_KEY", "rsa words");
  assert.ok(!("reason" in right));
  assert.ok(right.native);
  assert.equal(right.key, undefined);
  assert.equal(right.fingerprint, RSA.fingerprint);
});

Deno.test("readSigningKey() falls back to openpgp.js when GnuPG added a signing subkey, and gpgv verifies it", async () => {
  await withGnupg(async (dir, home) => {
    const uid = "Sub <sub@kiln.invalid>";
    const [primary] = await gpgKey(home, uid, "never");
    const add = await gpg(home, ["--quick-add-key", primary, "ed25519", "sign", "never"]);
    assert.equal(add.code, 0, add.err);
    const [, subkey] = await gpgKey(home, uid);
    assert.ok(subkey);
    const armored = (await gpg(home, ["--armor", "--export-secret-keys", primary])).out;
    await Deno.writeFile(`${dir}/ring.gpg`, (await runGpg(home, ["--export", primary])).stdout);

    assert.deepEqual(await readNativeKey(armored, PW), { unsupported: "a subkey that may sign" });
    const key = await readSigningKey(armored, "sub.asc", PW);
    assert.ok(!("reason" in key), "reason" in key ? key.message : "");
    assert.ok(key.key);
    assert.equal(key.native, undefined);
    assert.equal(key.fingerprint, primary);
    assert.equal(key.userId, uid);
    const detached = await signDetached(key, TEXT);
    await Deno.writeTextFile(`${dir}/Release`, TEXT);
    await Deno.writeTextFile(`${dir}/Release.gpg`, detached);
    await Deno.writeTextFile(`${dir}/InRelease`, await clearsign(key, TEXT));
    for (const files of [["InRelease"], ["Release.gpg", "Release"]]) {
      const r = await gpgv(`${dir}/ring.gpg`, files.map((f) => `${dir}/${f}`));
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, new RegExp(`using EDDSA key ${subkey}\\n`)); // as GnuPG would sign
    }
    const sig = parseSignature(readPackets(dearmor(detached, "PGP SIGNATURE")!)[0].body);
    assert.deepEqual([sig?.type, sig?.hash], [0x00, 10]);
    await Deno.writeTextFile(`${dir}/Release`, TEXT.replace("kiln", "kilN"));
    assert.equal((await gpgv(`${dir}/ring.gpg`, [`${dir}/Release.gpg`, `${dir}/Release`])).code, 1);
  });
});

Deno.test("readNativeKey() says unsupported when now is past the key's expiry", async () => {
  await withGnupg(async (_dir, home) => {
    const uid = "Soon <soon@kiln.invalid>";
    const [fpr] = await gpgKey(home, uid, "1d");
    const armored = (await gpg(home, ["--armor", "--export-secret-keys", fpr])).out;
    const list = await runGpg(home, ["--with-colons", "--list-keys", fpr]);
    const gpgExpires = Number(list.out.match(/^pub(?::[^:]*){4}:(\d+):(\d+):/m)?.[2]);
    const k = await readNativeKey(armored, PW);
    assert.ok("fingerprint" in k, JSON.stringify(k));
    assert.ok(k.expires);
    assert.equal(k.expires.getTime(), gpgExpires * 1000);
    assert.equal(k.expires.getTime() - k.created.getTime(), DAY_MS);
    const before = new Date(k.expires.getTime() - 1000);
    assert.equal((await readNativeKey(armored, PW, before) as NativeKey).fingerprint, fpr);
    const after = new Date(k.expires.getTime() + 1000);
    assert.deepEqual(await readNativeKey(armored, PW, after), { unsupported: "an expired key" });
  });
  // A key kiln made three days ago for one day: expired now, and openpgp.js says so too.
  const old = await generateRepositoryKey({
    name: "kiln old",
    algorithm: "ed25519",
    expiresInDays: 1,
    date: new Date(Date.now() - 3 * DAY_MS),
  });
  assert.deepEqual(await readNativeKey(old.privateArmored), { unsupported: "an expired key" });
  const viaOpenpgp = await readSigningKey(old.privateArmored, "old.asc");
  assert.ok("reason" in viaOpenpgp);
  assert.match(viaOpenpgp.message, /cannot sign \(Primary key is expired\)/);
});

Deno.test("readNativeKey() says unsupported when the secret does not belong to the public key", async () => {
  const mismatch = { unsupported: "a secret key that does not match its public key" };
  // Ed25519: key a's public fields with key b's secret (both unprotected, same layout).
  const [a, b] = await Promise.all(
    ["kiln a", "kiln b"].map((name) => generateRepositoryKey({ name, algorithm: "ed25519" })),
  );
  const aPackets = readPackets(dearmor(a.privateArmored, "PGP PRIVATE KEY BLOCK")!);
  const bPrimary = readPackets(dearmor(b.privateArmored, "PGP PRIVATE KEY BLOCK")!)[0];
  const end = publicEnd(aPackets[0].body);
  assert.equal(end, publicEnd(bPrimary.body));
  const spliced = concatBytes([
    writePacket(5, concatBytes([aPackets[0].body.subarray(0, end), bPrimary.body.subarray(end)])),
    ...aPackets.slice(1).map((p) => writePacket(p.tag, p.body)),
  ]);
  assert.deepEqual(await readNativeKey(armor("PGP PRIVATE KEY BLOCK", spliced)), mismatch);
  // A flipped bit in a's own secret is caught by its checksum first.
  const flipped = dearmor(a.privateArmored, "PGP PRIVATE KEY BLOCK")!;
  readPackets(flipped)[0].body[end + 10] ^= 0x01;
  assert.deepEqual(await readNativeKey(armor("PGP PRIVATE KEY BLOCK", flipped)), {
    unsupported: "a secret key whose checksum fails",
  });

  // RSA: the unprotected key with one bit of d changed and its checksum made right again.
  const plain = await openpgp.decryptKey({
    privateKey: await openpgp.readPrivateKey({ armoredKey: RSA.privateArmored }),
    passphrase: "rsa words",
  });
  const bytes = dearmor(plain.armor(), "PGP PRIVATE KEY BLOCK")!;
  const rsaBody = readPackets(bytes)[0].body;
  const rsaEnd = publicEnd(rsaBody);
  assert.equal(rsaBody[rsaEnd], 0); // S2K usage 0: the secret is in the clear
  assert.equal((await readNativeKey(plain.armor()) as NativeKey).fingerprint, RSA.fingerprint);
  const d = readMpi(rsaBody, rsaEnd + 1);
  d.value[d.value.length - 1] ^= 0x02;
  rsaBody.set(checksum16(rsaBody.subarray(rsaEnd + 1, rsaBody.length - 2)), rsaBody.length - 2);
  assert.deepEqual(await readNativeKey(armor("PGP PRIVATE KEY BLOCK", bytes)), mismatch);
});

/** `armored` (unprotected) with its user ID's certification made again without key flags. */
async function flaglessCertified(armored: string): Promise<string> {
  const k = await readNativeKey(armored) as NativeKey;
  const packets = readPackets(dearmor(armored, "PGP PRIVATE KEY BLOCK")!);
  const pub = packets[0].body.subarray(0, publicEnd(packets[0].body));
  const uid = packets[1].body;
  const signed = concatBytes([
    [0x99, ...u32(pub.length).slice(2), ...pub, 0xb4],
    u32(uid.length),
    uid,
  ]);
  const cert = await signaturePacket(k, signed, 0x13 as 0x01); // type 0x13 is a positive certification
  const rest = packets.slice(3).map((p) => writePacket(p.tag, p.body));
  return armor(
    "PGP PRIVATE KEY BLOCK",
    concatBytes([writePacket(5, packets[0].body), writePacket(13, uid), cert, ...rest]),
  );
}

Deno.test("readNativeKey() leaves a key to openpgp.js when openpgp.js would refuse its self-certification", async () => {
  const later = new Date(Date.now() + 3_600_000); // made on a clock an hour ahead
  const [plain, future] = await Promise.all([
    generateRepositoryKey({ name: "kiln flagless", algorithm: "ed25519" }),
    generateRepositoryKey({ name: "kiln future", algorithm: "ed25519", date: later }),
  ]);
  assert.ok("fingerprint" in await readNativeKey(future.privateArmored, undefined, later));
  const refused: [string, string, RegExp][] = [
    [
      await flaglessCertified(plain.privateArmored),
      "a primary key not flagged to sign",
      /key flags/,
    ],
    [future.privateArmored, "a key or self-certification dated in the future", /in the future/],
  ];
  await withGnupg(async (_dir, home) => {
    const made = async (uid: string, algo: string, ...opts: string[]) => {
      const args = [...opts, "--quick-gen-key", uid, algo, "sign,cert", "never"];
      const r = await runGpg(home, ["--pinentry-mode", "loopback", "--passphrase", "", ...args]);
      assert.equal(r.code, 0, r.err);
      return (await runGpg(home, ["--armor", "--export-secret-keys", `=${uid}`])).out;
    };
    const weak = /Hash algorithm too weak for EdDSA/;
    const sha1 = await made("S <s@kiln.invalid>", "ed25519", "--cert-digest-algo", "SHA1");
    const ripemd = await made("R <r@kiln.invalid>", "ed25519", "--cert-digest-algo", "RIPEMD160");
    const crit = await made(
      "C <c@kiln.invalid>",
      "ed25519",
      "--cert-notation",
      "!c@kiln.invalid=1",
    );
    refused.push(
      [sha1, "a self-certification hashed with sha1", weak],
      [ripemd, "a self-certification hashed with ripemd160", weak],
      [crit, "a critical subpacket kiln does not read", /Unknown critical notation: c@kiln/],
    );
    // RSA over SHA-1 is fine with openpgp.js (apt's sqv is another matter): kiln reads it.
    const k = await readNativeKey(
      await made("O <o@kiln.invalid>", "rsa2048", "--cert-digest-algo", "SHA1"),
    );
    assert.ok("fingerprint" in k, JSON.stringify(k));
    assert.deepEqual([k.certHash, k.rsaBits], [2, 2048]);
  });
  for (const [armored, native, theirs] of refused) {
    assert.deepEqual(await readNativeKey(armored), { unsupported: native });
    const viaOpenpgp = await readSigningKey(armored, "k.asc");
    assert.ok("reason" in viaOpenpgp, native);
    assert.equal(viaOpenpgp.reason, SIGNING_KEY_INVALID);
    assert.match(viaOpenpgp.message, theirs);
  }
});
