import assert from "node:assert/strict";
import * as openpgp from "openpgp";
import { generateRepositoryKey } from "../../signing/generate.ts";
import { readSigningKey } from "../../signing/key.ts";
import { type NativeKey, readNativeKey } from "../../signing/native_key.ts";
import { nativeClearsign, nativeDetached, parseSignature } from "../../signing/native_sign.ts";
import {
  armor,
  concatBytes,
  crc24,
  dearmor,
  mpi,
  PacketError,
  readMpi,
  readPackets,
  subpacket,
  u32,
  writePacket,
} from "../../signing/packets.ts";
import { type GpgRun, runGpg, stopGpgAgent } from "../rig/gpg.ts";
import { testSigningKey } from "../rig/signing_key.ts";
import { assertOpenpgpVerifies } from "../rig/openpgp_check.ts";
import { makeTmp, randomBytes, removeTree } from "../rig/workspace.ts";

const DAY_MS = 86_400_000;
const RELEASE = "Origin: kiln\nSuite: stable\nSHA256:\n 0123abcd 42 main/binary-amd64/Packages\n";

/** gpg in `home`, with `passphrase` given through the loopback pinentry. */
const gpgPw = (home: string, passphrase: string, args: string[]): Promise<GpgRun> =>
  runGpg(home, ["--pinentry-mode", "loopback", "--passphrase", passphrase, ...args]);

async function gpgv(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("gpgv", { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Stops the gpg-agent GnuPG may have started for `home`, then removes `dir`. */
async function cleanUp(dir: string, home: string): Promise<void> {
  await stopGpgAgent(home);
  await removeTree(dir);
}

/** The CRC-24 as armor's `=XXXX` line writes it. */
const crcLine = (c: number) => `=${btoa(String.fromCharCode(c >> 16, (c >> 8) & 0xff, c & 0xff))}`;

/** `key`'s two signatures of RELEASE checked by gpgv (and a changed Release refused) and openpgp.js. */
async function assertVerifies(dir: string, key: NativeKey): Promise<void> {
  const ring = `${dir}/ring.gpg`;
  await Deno.writeFile(ring, key.publicPackets);
  const inRelease = await nativeClearsign(key, RELEASE);
  const detached = await nativeDetached(key, RELEASE);
  await Deno.writeTextFile(`${dir}/InRelease`, inRelease);
  await Deno.writeTextFile(`${dir}/Release`, RELEASE);
  await Deno.writeTextFile(`${dir}/Release.gpg`, detached);
  const clear = await gpgv(["--keyring", ring, `${dir}/InRelease`]);
  assert.equal(clear.code, 0, clear.err);
  assert.match(clear.err, new RegExp(`using \\w+ key ${key.fingerprint}\\n`));
  const det = await gpgv(["--keyring", ring, `${dir}/Release.gpg`, `${dir}/Release`]);
  assert.equal(det.code, 0, det.err);
  await Deno.writeTextFile(`${dir}/Release`, RELEASE.replace("stable", "stabl3"));
  const bad = await gpgv(["--keyring", ring, `${dir}/Release.gpg`, `${dir}/Release`]);
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.err, /BAD signature/);

  const verificationKeys = await openpgp.readKey({ binaryKey: key.publicPackets });
  await assertOpenpgpVerifies(verificationKeys, key, RELEASE);
}

Deno.test("nativeDetached() and nativeClearsign() sign so gpgv and openpgp.js verify when GnuPG made the key", async (t) => {
  const dir = await makeTmp("native-gpg-");
  const home = `${dir}/gnupg`;
  const cases = [
    { name: "Ed25519 protected by a passphrase", algo: "ed25519", usage: "sign,cert", pw: "pw" },
    { name: "RSA 3072 with an encryption subkey", algo: "rsa3072", usage: "sign,cert", pw: "pw" },
    { name: "Ed25519 without a passphrase", algo: "ed25519", usage: "sign,cert", pw: "" },
  ];
  try {
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        const uid = `Case ${i} <case${i}@kiln.invalid>`;
        const made = await gpgPw(home, c.pw, ["--quick-gen-key", uid, c.algo, c.usage, "never"]);
        assert.equal(made.code, 0, made.err);
        const fingerprints = async () => {
          const list = await runGpg(home, ["--with-colons", "--list-keys", `=${uid}`]);
          return [...list.out.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
        };
        const rsa = c.algo === "rsa3072";
        if (rsa) { // gpg 2.2 adds an encryption subkey to its "default" algorithm only
          const sub = await gpgPw(home, c.pw, [
            "--quick-add-key",
            (await fingerprints())[0],
            c.algo,
            "encr",
            "never",
          ]);
          assert.equal(sub.code, 0, sub.err);
        }
        const fprs = await fingerprints();
        assert.equal(fprs.length, rsa ? 2 : 1, fprs.join());
        const secret = await gpgPw(home, c.pw, ["--armor", "--export-secret-keys", fprs[0]]);
        assert.equal(secret.code, 0, secret.err);
        const pub = await runGpg(home, ["--export", fprs[0]]);
        const pubArmored = await runGpg(home, ["--armor", "--export", fprs[0]]);
        assert.deepEqual(dearmor(pubArmored.out, "PGP PUBLIC KEY BLOCK"), pub.stdout);

        const key = await readNativeKey(secret.out, c.pw || undefined);
        assert.ok("fingerprint" in key, JSON.stringify(key));
        assert.equal(key.fingerprint, fprs[0]);
        assert.equal(key.userId, uid);
        assert.equal(key.algorithm, rsa ? 1 : 22);
        assert.equal(key.rsaBits, rsa ? 3072 : null);
        assert.equal(key.expires, null);
        // The public packets are gpg's export, in the new-format headers openpgp.js also writes.
        const fromGpg = await openpgp.readKey({ binaryKey: pub.stdout });
        assert.equal(armor("PGP PUBLIC KEY BLOCK", key.publicPackets), fromGpg.armor());
        if (c.pw) {
          assert.deepEqual(await readNativeKey(secret.out, "not pw"), { wrongPassphrase: true });
          assert.deepEqual(await readNativeKey(secret.out), {
            unsupported: "a passphrase is needed",
          });
        }
        await Deno.mkdir(`${dir}/${i}`);
        await assertVerifies(`${dir}/${i}`, key);
      });
    }
  } finally {
    await cleanUp(dir, home);
  }
});

Deno.test("readNativeKey() picks the user ID openpgp.js picks when GnuPG adds, marks and revokes user IDs", async () => {
  const dir = await makeTmp("native-uids-");
  const home = `${dir}/gnupg`;
  const [first, second, third] = ["First", "Second", "Third"].map((n) =>
    `${n} <${n.toLowerCase()}@kiln.invalid>`
  );
  try {
    const made = await gpgPw(home, "", [
      "--quick-gen-key",
      first,
      "ed25519",
      "sign,cert",
      "never",
    ]);
    assert.equal(made.code, 0, made.err);
    const list = await runGpg(home, ["--with-colons", "--list-keys"]);
    const fpr = list.out.match(/^fpr:+([0-9A-F]{40}):/m)?.[1];
    assert.ok(fpr, list.out);
    const changes = [
      { args: ["--quick-add-uid", fpr, second], picked: second }, // the newest certification
      { args: ["--quick-set-primary-uid", fpr, first], picked: first }, // the primary flag
      { args: ["--quick-add-uid", fpr, third], picked: first }, // beats a newer certification
      { args: ["--quick-revoke-uid", fpr, first], picked: third }, // never a revoked one
    ];
    for (const { args, picked } of changes) {
      await new Promise((r) => setTimeout(r, 1100)); // a newer certification time each change
      const r = await gpgPw(home, "", args);
      assert.equal(r.code, 0, r.err);
      const armored: string = (await gpgPw(home, "", ["--armor", "--export-secret-keys", fpr]))
        .out;
      const k = await readNativeKey(armored);
      assert.ok("fingerprint" in k, JSON.stringify(k));
      const theirs = await openpgp.readPrivateKey({ armoredKey: armored });
      assert.equal(k.userId, picked, args[0]);
      assert.equal(k.userId, (await theirs.getPrimaryUser()).user.userID?.userID);
      assert.equal(armor("PGP PUBLIC KEY BLOCK", k.publicPackets), theirs.toPublic().armor());
    }
  } finally {
    await cleanUp(dir, home);
  }
});

Deno.test("readNativeKey() reads the newest self-certification when an extended key keeps its old one", async () => {
  const old = await generateRepositoryKey({
    name: "kiln extended",
    algorithm: "ed25519",
    expiresInDays: 1,
    date: new Date(Date.now() - 3 * DAY_MS),
  });
  assert.deepEqual(await readNativeKey(old.privateArmored), { unsupported: "an expired key" });
  // Extended by openpgp.js now, never to expire; merged as a keyserver leaves it (both kept).
  const { privateKey } = await openpgp.reformatKey({
    privateKey: await openpgp.readPrivateKey({ armoredKey: old.privateArmored }),
    userIDs: [{ name: "kiln extended" }],
    format: "object",
    config: { preferredHashAlgorithm: openpgp.enums.hash.sha512 },
  });
  const oldPackets = readPackets(dearmor(old.privateArmored, "PGP PRIVATE KEY BLOCK")!);
  const newCert = readPackets(dearmor(privateKey.armor(), "PGP PRIVATE KEY BLOCK")!)[2];
  assert.equal(newCert.tag, 2);
  const [key, uid, oldCert, ...rest] = oldPackets;
  for (const certs of [[oldCert, newCert], [newCert, oldCert]]) {
    const merged = [key, uid, ...certs, ...rest].map((p) => writePacket(p.tag, p.body));
    const armored = armor("PGP PRIVATE KEY BLOCK", concatBytes(merged));
    const k = await readNativeKey(armored);
    assert.ok("fingerprint" in k, JSON.stringify(k));
    assert.equal(k.expires, null);
    const theirs = await openpgp.readPrivateKey({ armoredKey: armored });
    assert.equal(await theirs.getExpirationTime(), Infinity);
    assert.equal(armor("PGP PUBLIC KEY BLOCK", k.publicPackets), theirs.toPublic().armor());
  }
});

Deno.test("nativeClearsign() dash-escapes, drops trailing blanks and keeps LF when gpgv checks it", async () => {
  const { native, publicBinary } = await testSigningKey();
  assert.ok(native);
  const dir = await makeTmp("native-clear-");
  const ring = `${dir}/ring.gpg`;
  const text =
    "Origin: kiln\n-----BEGIN PGP SIGNATURE-----\n- dash\n--\nspaces   \ntabs\t \t\n\nlast  ";
  const stripped = "Origin: kiln\n-----BEGIN PGP SIGNATURE-----\n- dash\n--\nspaces\ntabs\n\nlast";
  try {
    await Deno.writeFile(ring, publicBinary);
    const signed = await nativeClearsign(native, text);
    assert.ok(
      signed.startsWith(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: kiln\n" +
          "- -----BEGIN PGP SIGNATURE-----\n- - dash\n- --\nspaces\ntabs\n\nlast\n" +
          "-----BEGIN PGP SIGNATURE-----\n\n",
      ),
      signed,
    );
    assert.ok(!signed.includes("\r"));
    await Deno.writeTextFile(`${dir}/InRelease`, signed);
    const ok = await gpgv(["--keyring", ring, "--output", "-", `${dir}/InRelease`]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, `${stripped}\n`); // gpg ends every line it recovers, the last one too
    await Deno.writeTextFile(`${dir}/InRelease`, signed.replace("\ntabs\n", "\ntab\n"));
    assert.equal((await gpgv(["--keyring", ring, `${dir}/InRelease`])).code, 1);

    // The signature alone checks as a detached text signature (gpg hashes the file with CRLF
    // line ends), so the signed bytes are exactly the stripped text: not the original, and
    // without a final line end.
    const packet = dearmor(signed.slice(signed.lastIndexOf("-----BEGIN PGP SIG")), "PGP SIGNATURE");
    assert.ok(packet);
    await Deno.writeTextFile(`${dir}/text.sig`, armor("PGP SIGNATURE", packet));
    for (const [body, code] of [[stripped, 0], [text, 1], [`${stripped}\n`, 1]] as const) {
      await Deno.writeTextFile(`${dir}/text`, body);
      const r = await gpgv(["--keyring", ring, `${dir}/text.sig`, `${dir}/text`]);
      assert.equal(r.code, code, `${JSON.stringify(body)}: ${r.err}`);
    }
  } finally {
    await removeTree(dir);
  }
});

Deno.test("nativeDetached() signs bytes (0x00) and nativeClearsign() text (0x01) with SHA-512 when gpg lists the packets", async () => {
  const { native, fingerprint } = await testSigningKey();
  assert.ok(native);
  const dir = await makeTmp("native-list-");
  const home = `${dir}/gnupg`;
  const keyId = fingerprint.slice(-16);
  try {
    const clear = await nativeClearsign(native, RELEASE);
    const textSig = dearmor(
      clear.slice(clear.indexOf("-----BEGIN PGP SIGNATURE")),
      "PGP SIGNATURE",
    );
    assert.ok(textSig);
    await Deno.writeTextFile(`${dir}/Release.gpg`, await nativeDetached(native, RELEASE));
    await Deno.writeTextFile(`${dir}/text.sig`, armor("PGP SIGNATURE", textSig));
    const now = Math.floor(Date.now() / 1000);
    for (const [file, type] of [["Release.gpg", 0x00], ["text.sig", 0x01]] as const) {
      const l = await runGpg(home, ["--list-packets", `${dir}/${file}`]);
      assert.equal(l.code, 0, l.err);
      assert.match(l.out, new RegExp(`^:signature packet: algo 22, keyid ${keyId}$`, "m"));
      assert.match(l.out, new RegExp(`version 4, created \\d+, md5len 0, sigclass 0x0${type}\\n`));
      assert.match(l.out, /\n\s+digest algo 10, begin of digest/);
      assert.match(l.out, /\n\s+critical hashed subpkt 2 len 4 \(sig created/);
      assert.match(l.out, new RegExp(`hashed subpkt 33 len 21 \\(issuer fpr v4 ${fingerprint}\\)`));
      assert.match(l.out, new RegExp(`\\n\\s+subpkt 16 len 8 \\(issuer key ID ${keyId}\\)`));
      const created = Number(l.out.match(/created (\d+), md5len/)?.[1]);
      assert.ok(Math.abs(created - now) < 60, `created ${created}, now ${now}`);

      const packets = readPackets(
        dearmor(await Deno.readTextFile(`${dir}/${file}`), "PGP SIGNATURE")!,
      );
      assert.equal(packets.length, 1);
      const sig = parseSignature(packets[0].body);
      assert.ok(sig);
      assert.deepEqual([sig.type, sig.hash, sig.algorithm], [type, 10, 22]);
    }
  } finally {
    await cleanUp(dir, home);
  }
});

Deno.test("crc24() gives the =XXXX line gpg writes when it armors the same bytes", async () => {
  assert.equal(crc24(new TextEncoder().encode("123456789")), 0x21cf02); // CRC-24/OPENPGP check
  assert.equal(crc24(new Uint8Array(0)), 0xb704ce); // the initial value
  const dir = await makeTmp("native-crc-");
  const home = `${dir}/gnupg`;
  try {
    for (const n of [1, 2, 3, 59, 1000, 70_000]) {
      const bytes = randomBytes(n);
      const theirs = await runGpg(home, ["--enarmor"], bytes);
      assert.equal(theirs.code, 0, theirs.err);
      assert.equal(theirs.out.match(/^=[A-Za-z0-9+/]{4}$/m)?.[0], crcLine(crc24(bytes)), `${n}`);
      assert.deepEqual(dearmor(theirs.out, "PGP ARMORED FILE"), bytes);
      // And back: gpg --dearmor checks the CRC line armor() writes.
      const ours = new TextEncoder().encode(armor("PGP ARMORED FILE", bytes));
      const back = await runGpg(home, ["--dearmor"], ours);
      assert.equal(back.code, 0, back.err);
      assert.deepEqual(back.stdout, bytes);
    }
  } finally {
    await cleanUp(dir, home);
  }
});

Deno.test("dearmor() throws PacketError when the CRC line or the data was changed", () => {
  const bytes = new TextEncoder().encode("kiln armor test, long enough for a line or so");
  const text = armor("PGP SIGNATURE", bytes);
  assert.deepEqual(dearmor(text, "PGP SIGNATURE"), bytes);
  const badCrc = text.replace(/^=(.)/m, (_, c) => `=${c === "A" ? "B" : "A"}`);
  const badData = text.replace(/\n\n(.)/, (_, c) => `\n\n${c === "A" ? "B" : "A"}`);
  for (const bad of [badCrc, badData]) {
    assert.notEqual(bad, text);
    assert.throws(
      () => dearmor(bad, "PGP SIGNATURE"),
      (e) => e instanceof PacketError && /fails its CRC-24 check/.test(e.message),
    );
  }
  // Without a CRC line (RFC 9580 makes it optional) the bytes read as they are.
  assert.deepEqual(dearmor(text.replace(/^=.{4}\n/m, ""), "PGP SIGNATURE"), bytes);
  assert.equal(dearmor("no armor here", "PGP SIGNATURE"), null);
});

Deno.test("readNativeKey() says unsupported when the armor's CRC line is corrupted", async () => {
  const g = await generateRepositoryKey({ name: "kiln crc", algorithm: "ed25519" });
  const bad = g.privateArmored.replace(/^=(.)/m, (_, c) => `=${c === "A" ? "B" : "A"}`);
  assert.notEqual(bad, g.privateArmored);
  assert.deepEqual(await readNativeKey(bad), {
    unsupported: "the armored PGP PRIVATE KEY BLOCK fails its CRC-24 check",
  });
  // openpgp.js ignores the CRC, as RFC 9580 asks: the packets are whole, so it reads the key.
  const viaOpenpgp = await readSigningKey(bad, "crc.asc");
  assert.ok(!("reason" in viaOpenpgp));
  assert.deepEqual([!!viaOpenpgp.key, viaOpenpgp.native], [true, undefined]);
  assert.equal(viaOpenpgp.fingerprint, g.fingerprint);
});

Deno.test("readNativeKey() says unsupported when a byte of the user ID was flipped", async () => {
  const g = await generateRepositoryKey({ name: "kiln damaged", algorithm: "ed25519" });
  assert.ok("fingerprint" in await readNativeKey(g.privateArmored));
  const bytes = dearmor(g.privateArmored, "PGP PRIVATE KEY BLOCK")!;
  const uid = readPackets(bytes).find((p) => p.tag === 13)!;
  uid.body[0] ^= 0x01; // "kiln damaged" becomes "jiln damaged" in `bytes`
  const damaged = armor("PGP PRIVATE KEY BLOCK", bytes);
  assert.deepEqual(await readNativeKey(damaged), {
    unsupported: "a self-certification that does not verify",
  });
  const viaOpenpgp = await readSigningKey(damaged, "damaged.asc");
  assert.ok("reason" in viaOpenpgp);
  assert.match(viaOpenpgp.message, /cannot sign \(Could not find valid self-signature/);
});

Deno.test("readNativeKey() verifies an RSA self-certification when its MPI dropped a leading zero", async () => {
  const { privateKey } = await openpgp.generateKey({
    type: "rsa",
    rsaBits: 2048,
    userIDs: [{ name: "kiln zero" }],
    format: "armored",
  });
  const [key, uid, , ...rest] = readPackets(dearmor(privateKey, "PGP PRIVATE KEY BLOCK")!);
  const k = await readNativeKey(privateKey) as NativeKey; // (255 keys in 256 read even unfixed)
  assert.ok(k.privateKey);
  const pub = key.body.subarray(0, readMpi(key.body, readMpi(key.body, 6).next).next); // n, e
  const signed = concatBytes([
    [0x99, pub.length >> 8, pub.length & 0xff],
    pub,
    [0xb4],
    u32(uid.body.length),
    uid.body,
  ]);
  // Certify again, a counter in a notation, until the signature's first byte is zero (1 in 256).
  let cert: Uint8Array | null = null;
  for (let i = 0; !cert && i < 10_000; i++) {
    const name = new TextEncoder().encode("try@kiln.invalid");
    const hashed = [
      ...subpacket(2, u32(Math.floor(k.created.getTime() / 1000)), true),
      ...subpacket(27, [0x03]),
      ...subpacket(20, [0x80, 0, 0, 0, 0, name.length, 0, 4, ...name, ...u32(i)]),
      ...subpacket(33, [4, ...k.fingerprintBytes]),
    ];
    const signedPart = new Uint8Array([4, 0x13, 1, 10, 0, hashed.length, ...hashed]);
    const trailer = [4, 0xff, ...u32(signedPart.length)];
    const input = concatBytes([signed, signedPart, trailer]) as Uint8Array<ArrayBuffer>;
    const value = new Uint8Array(
      await crypto.subtle.sign("RSASSA-PKCS1-v1_5", k.privateKey, input),
    );
    if (value[0] !== 0) continue;
    const left16 = new Uint8Array(await crypto.subtle.digest("SHA-512", input)).subarray(0, 2);
    cert = writePacket(2, concatBytes([signedPart, [0, 0], left16, mpi(value)]));
  }
  assert.ok(cert);
  assert.ok(parseSignature(readPackets(cert)[0].body)!.value.length < 256);
  const armored = armor(
    "PGP PRIVATE KEY BLOCK",
    concatBytes(
      [key, uid].map((p) => writePacket(p.tag, p.body)).concat(
        cert,
        rest.map((p) => writePacket(p.tag, p.body)),
      ),
    ),
  );
  const theirs = await openpgp.readPrivateKey({ armoredKey: armored });
  await theirs.getSigningKey(); // openpgp.js takes the certification: it is well made
  const again = await readNativeKey(armored);
  assert.ok("fingerprint" in again, JSON.stringify(again));
  assert.deepEqual([again.fingerprint, again.userId], [k.fingerprint, "kiln zero"]);
});
