/**
 * ISO verification against signatures made the way distros make them: by the real `gpg`
 * (`--detach-sign`, `--armor`, `--clearsign`) and by openpgp.js, with throwaway keys.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import * as openpgp from "openpgp";
import type { Failure } from "../../engine/failure.ts";
import { findDistro, loadCatalog, resolveDistro } from "../../iso/catalog.ts";
import {
  type SignatureInput,
  type VerifiedIso,
  verifyDistroIso,
  verifyIso,
  type VerifyIsoInput,
} from "../../iso/verify.ts";
import { makeTmp } from "../rig/workspace.ts";
import { runGpg } from "../rig/gpg.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A throwaway GnuPG home under test/.tmp, driven through the real gpg CLI. */
class Gpg {
  private constructor(readonly home: string) {}

  static async create(dir: string): Promise<Gpg> {
    const home = `${dir}/gnupg`;
    await Deno.mkdir(home, { mode: 0o700 });
    return new Gpg(home);
  }

  async run(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
    const out = await runGpg(
      this.home,
      ["--pinentry-mode", "loopback", "--passphrase", "", ...args],
      stdin,
    );
    if (out.code !== 0) throw new Error(`gpg ${args.join(" ")}: ${out.err}`);
    return out.stdout;
  }

  /** Makes a key and returns its primary fingerprint; `usage` as gpg's --quick-gen-key takes it. */
  async key(uid: string, algo = "ed25519", usage = "sign"): Promise<string> {
    await this.run(["--quick-gen-key", uid, algo, usage, "never"]);
    return (await this.fingerprints(uid))[0];
  }

  /** Fingerprints of `uid`'s primary key and subkeys, primary first. */
  async fingerprints(uid: string): Promise<string[]> {
    const out = decoder.decode(await this.run(["--with-colons", "--list-keys", uid]));
    return out.split("\n").filter((l) => l.startsWith("fpr:")).map((l) => l.split(":")[9]);
  }

  async addSigningSubkey(primary: string): Promise<string> {
    await this.run(["--quick-add-key", primary, "ed25519", "sign", "never"]);
    const all = await this.fingerprints(primary);
    return all[all.length - 1];
  }

  exportKey(fpr: string, armor = true): Promise<Uint8Array> {
    return this.run([...(armor ? ["--armor"] : []), "--export", fpr]);
  }

  detachSign(signers: string[], data: Uint8Array, armor: boolean, extra: string[] = []) {
    const who = signers.flatMap((s) => ["--local-user", s]);
    return this.run([...who, ...extra, ...(armor ? ["--armor"] : []), "--detach-sign"], data);
  }

  async clearsign(signer: string, text: string): Promise<string> {
    return decoder.decode(
      await this.run(["--local-user", signer, "--clearsign"], encoder.encode(text)),
    );
  }
}

/** One gpg home and a few keys shared by the tests (key generation is the slow part). */
interface World {
  dir: string;
  gpg: Gpg;
  /** Pinned, sign-capable ed25519 primary. */
  pinned: string;
  /** Sign-capable key that is never pinned. */
  stranger: string;
  /** Pinned cert-only primary whose signing subkey signs. */
  certOnly: string;
  subkey: string;
  /** Pinned RSA key, like the distros' keys. */
  rsa: string;
}

let world: Promise<World> | undefined;
let worldDir: string | undefined;
function setup(): Promise<World> {
  world ??= (async () => {
    const dir = worldDir = await makeTmp("iso-verify-");
    const gpg = await Gpg.create(dir);
    const pinned = await gpg.key("Pinned CD Signing <pinned@example.invalid>");
    const stranger = await gpg.key("Mirror Attacker <attacker@example.invalid>");
    const certOnly = await gpg.key("Release Key <release@example.invalid>", "ed25519", "cert");
    const subkey = await gpg.addSigningSubkey(certOnly);
    const rsa = await gpg.key("RSA Release <rsa@example.invalid>", "rsa3072", "sign");
    return { dir, gpg, pinned, stranger, certOnly, subkey, rsa };
  })();
  return world;
}

// The keys are shared by every test of this file, so they go when the file is done.
addEventListener("unload", () => {
  if (!worldDir) return;
  new Deno.Command("gpgconf", { args: ["--homedir", `${worldDir}/gnupg`, "--kill", "all"] })
    .outputSync();
  Deno.removeSync(worldDir, { recursive: true });
});

function verified(result: VerifiedIso | Failure): VerifiedIso {
  if ("reason" in result) {
    throw new Error(`unexpected failure: ${result.reason}: ${result.message}`);
  }
  return result;
}

function failedWith(result: VerifiedIso | Failure, reason: string, pattern?: RegExp): Failure {
  if (!("reason" in result)) throw new Error(`expected ${reason}, got success by ${result.signer}`);
  equal(result.reason, reason, result.message);
  ok(!result.message.includes("\n"), "one line");
  ok(!result.message.endsWith("."), "no final period");
  ok(/^[A-Z]/.test(result.message), "sentence case");
  if (pattern) match(result.message, pattern);
  return result;
}

const ISO_BYTES = new Uint8Array(300 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
const ISO_NAME = "test-1.0-x86_64.iso";

async function writeIso(w: World, name = "test.iso"): Promise<string> {
  const path = `${w.dir}/${name}`;
  await Deno.writeFile(path, ISO_BYTES);
  return path;
}

function gnuSums(digest = hex(ISO_BYTES)): string {
  return `${hex("other")} *other-1.0-x86_64.iso\n${digest} *${ISO_NAME}\n`;
}

function bsdSums(digest = hex(ISO_BYTES)): string {
  return `# ${ISO_NAME}: ${ISO_BYTES.length} bytes\nSHA256 (${ISO_NAME}) = ${digest}\n`;
}

async function keyFile(w: World, fpr: string, armor = true) {
  return {
    name: `${fpr.slice(-8)}.${armor ? "asc" : "gpg"}`,
    data: await w.gpg.exportKey(fpr, armor),
  };
}

/** Input for a detached signature by `signer` over `sums`, pinning `pins`. */
async function detached(
  w: World,
  opts: { sums?: string; signers?: string[]; pins?: string[]; armor?: boolean; keys?: string[] },
): Promise<VerifyIsoInput> {
  const sums = encoder.encode(opts.sums ?? gnuSums());
  const armor = opts.armor ?? false;
  const signers = opts.signers ?? [w.pinned];
  const signature: SignatureInput = {
    kind: "detached",
    data: await w.gpg.detachSign(signers, sums, armor),
    encoding: armor ? "armored" : "binary",
    name: armor ? "SHA256SUMS.asc" : "SHA256SUMS.gpg",
  };
  return {
    isoName: ISO_NAME,
    isoPath: await writeIso(w),
    checksumText: sums,
    checksumName: "SHA256SUMS",
    signature,
    keys: await Promise.all((opts.keys ?? signers).map((k) => keyFile(w, k))),
    pinned: opts.pins ?? [w.pinned],
  };
}

Deno.test("verifyIso() accepts an ISO whose SHA256SUMS has a binary detached gpg signature", async () => {
  const w = await setup();
  const r = verified(await verifyIso(await detached(w, {})));
  deepEqual(r, {
    algorithm: "sha256",
    digest: hex(ISO_BYTES),
    sha256: hex(ISO_BYTES),
    signer: w.pinned,
    signingKey: w.pinned,
  });
});

Deno.test("verifyIso() accepts an armored detached gpg signature (Ubuntu's SHA256SUMS.gpg)", async () => {
  const w = await setup();
  equal(verified(await verifyIso(await detached(w, { armor: true }))).signer, w.pinned);
});

Deno.test("verifyIso() accepts a clearsigned GNU checksum file made by gpg --clearsign", async () => {
  const w = await setup();
  const r = verified(
    await verifyIso({
      isoName: ISO_NAME,
      isoPath: await writeIso(w),
      checksumText: await w.gpg.clearsign(w.pinned, gnuSums()),
      checksumFormat: "gnu",
      signature: { kind: "clearsign" },
      keys: [await keyFile(w, w.pinned)],
      pinned: [w.pinned],
    }),
  );
  equal(r.sha256, hex(ISO_BYTES));
  equal(r.signer, w.pinned);
});

Deno.test("verifyIso() accepts a clearsigned BSD checksum file signed by an RSA key", async () => {
  const w = await setup();
  const r = verified(
    await verifyIso({
      isoName: ISO_NAME,
      isoPath: await writeIso(w),
      checksumText: await w.gpg.clearsign(w.rsa, bsdSums()),
      checksumFormat: "bsd",
      signature: { kind: "clearsign" },
      keys: [await keyFile(w, w.rsa, false)],
      pinned: [w.rsa],
    }),
  );
  equal(r.signer, w.rsa);
});

Deno.test("verifyIso() fails iso-signature-invalid when the signed checksum text was altered", async () => {
  const w = await setup();
  const input = await detached(w, { armor: true });
  const sums = decoder.decode(input.checksumText as Uint8Array);
  const altered = sums.replace(hex(ISO_BYTES), hex("evil"));
  failedWith(
    await verifyIso({
      ...input,
      checksumText: altered,
      isoDigest: hex("evil"),
      isoPath: undefined,
    }),
    "iso-signature-invalid",
    /^Checksum file "SHA256SUMS" has a bad signature by pinned key .*fetch both again$/,
  );
  const clear = await w.gpg.clearsign(w.pinned, bsdSums());
  failedWith(
    await verifyIso({
      ...input,
      checksumText: clear.replace(hex(ISO_BYTES), hex("evil")),
      signature: { kind: "clearsign" },
    }),
    "iso-signature-invalid",
  );
});

Deno.test("verifyIso() fails iso-checksum-mismatch when the ISO was altered", async () => {
  const w = await setup();
  const input = await detached(w, {});
  const file = await Deno.open(input.isoPath!, { append: true });
  await file.write(new Uint8Array([0]));
  file.close();
  failedWith(
    await verifyIso(input),
    "iso-checksum-mismatch",
    new RegExp(`^ISO "${ISO_NAME}" does not match its checksum .* fetch it again$`),
  );
  failedWith(
    await verifyIso({ ...input, isoPath: undefined, isoDigest: hex("x") }),
    "iso-checksum-mismatch",
  );
});

Deno.test("verifyIso() fails iso-key-unpinned when an unpinned key signed, even if its key is supplied", async () => {
  const w = await setup();
  const input = await detached(w, { signers: [w.stranger], keys: [w.pinned, w.stranger] });
  failedWith(
    await verifyIso(input),
    "iso-key-unpinned",
    /signed only by key ID .*which is not pinned/,
  );
  const clear = await w.gpg.clearsign(w.stranger, gnuSums());
  failedWith(
    await verifyIso({ ...input, checksumText: clear, signature: { kind: "clearsign" } }),
    "iso-key-unpinned",
  );
});

Deno.test("verifyIso() fails iso-key-unpinned when no supplied key is pinned", async () => {
  const w = await setup();
  const input = await detached(w, { signers: [w.stranger], keys: [w.stranger] });
  failedWith(
    await verifyIso(input),
    "iso-key-unpinned",
    new RegExp(`^No pinned key in .*found ${w.stranger}`),
  );
  failedWith(
    await verifyIso({ ...input, pinned: [] }),
    "iso-key-unpinned",
    /No signing-key fingerprint is pinned/,
  );
});

Deno.test("verifyIso() accepts a signing subkey whose primary is pinned, and reports both", async () => {
  const w = await setup();
  const input = await detached(w, { signers: [w.certOnly], pins: [w.certOnly], armor: true });
  const r = verified(await verifyIso(input));
  equal(r.signer, w.certOnly);
  equal(r.signingKey, w.subkey);
  // A pin is a primary fingerprint: pinning the subkey alone does not trust it.
  failedWith(await verifyIso({ ...input, pinned: [w.subkey] }), "iso-key-unpinned");
});

Deno.test("verifyIso() accepts pins written in lowercase with spaces", async () => {
  const w = await setup();
  const spaced = w.pinned.toLowerCase().replace(/(.{4})/g, "$1 ").trim();
  equal(verified(await verifyIso(await detached(w, { pins: [spaced] }))).signer, w.pinned);
});

Deno.test("verifyIso() accepts a file signed by an unpinned and a pinned key (Ubuntu's two signatures)", async () => {
  const w = await setup();
  const input = await detached(w, { signers: [w.stranger, w.pinned], keys: [w.pinned] });
  equal(verified(await verifyIso(input)).signer, w.pinned);
});

Deno.test("verifyIso() fails iso-signature-invalid when one of two pinned signatures is bad", async () => {
  const w = await setup();
  const input = await detached(w, {});
  const other = await w.gpg.detachSign([w.pinned], encoder.encode("something else\n"), false);
  const both = new Uint8Array([...(input.signature as { data: Uint8Array }).data, ...other]);
  failedWith(
    await verifyIso({ ...input, signature: { kind: "detached", data: both, encoding: "binary" } }),
    "iso-signature-invalid",
  );
});

Deno.test("verifyIso() accepts a gpg --textmode signature over the checksum file", async () => {
  const w = await setup();
  const input = await detached(w, {});
  const sig = await w.gpg.detachSign([w.pinned], input.checksumText as Uint8Array, false, [
    "--textmode",
  ]);
  const r = await verifyIso({
    ...input,
    signature: { kind: "detached", data: sig, encoding: "binary" },
  });
  equal(verified(r).signer, w.pinned);
});

Deno.test("verifyIso() fails iso-checksum-missing when the ISO is not listed", async () => {
  const w = await setup();
  const input = await detached(w, { sums: `${hex("x")} *other.iso\n` });
  failedWith(
    await verifyIso(input),
    "iso-checksum-missing",
    new RegExp(`^Checksum file "SHA256SUMS" does not list "${ISO_NAME}"`),
  );
});

Deno.test("verifyIso() fails iso-checksum-missing when the signed file is malformed or empty", async () => {
  const w = await setup();
  const sums = `${gnuSums()}<html>Mirror maintenance</html>\n`;
  failedWith(
    await verifyIso(await detached(w, { sums })),
    "iso-checksum-missing",
    /line 3 is neither a GNU/,
  );
  failedWith(
    await verifyIso(await detached(w, { sums: "\n" })),
    "iso-checksum-missing",
    /lists no checksums/,
  );
});

Deno.test("verifyIso() trusts only the signed part of a clearsigned file", async () => {
  const w = await setup();
  const signed = await w.gpg.clearsign(w.pinned, `${hex("other")} *other.iso\n`);
  const injected = `${hex(ISO_BYTES)} *${ISO_NAME}\n${signed}${hex(ISO_BYTES)} *${ISO_NAME}\n`;
  failedWith(
    await verifyIso({
      isoName: ISO_NAME,
      isoPath: await writeIso(w),
      checksumText: injected,
      signature: { kind: "clearsign" },
      keys: [await keyFile(w, w.pinned)],
      pinned: [w.pinned],
    }),
    "iso-checksum-missing",
    /does not list/,
  );
});

Deno.test("verifyIso() fails iso-signature-invalid for a missing clearsign or the wrong encoding", async () => {
  const w = await setup();
  const input = await detached(w, {});
  failedWith(
    await verifyIso({ ...input, signature: { kind: "clearsign" } }),
    "iso-signature-invalid",
    /is not clearsigned/,
  );
  const armored = await w.gpg.detachSign([w.pinned], input.checksumText as Uint8Array, true);
  failedWith(
    await verifyIso({
      ...input,
      signature: { kind: "detached", data: armored, encoding: "binary" },
    }),
    "iso-signature-invalid",
    /is armored but iso\/catalog.yaml says binary/,
  );
  failedWith(
    await verifyIso({
      ...input,
      signature: { kind: "detached", data: encoder.encode("junk"), encoding: "binary" },
    }),
    "iso-signature-invalid",
    /cannot be read/,
  );
});

Deno.test("verifyIso() fails iso-key-unpinned when a key file is not key material", async () => {
  const w = await setup();
  const input = await detached(w, {});
  failedWith(
    await verifyIso({ ...input, keys: [{ name: "key.asc", data: "<html>404</html>" }] }),
    "iso-key-unpinned",
    /^Key file "key.asc" is not OpenPGP key material/,
  );
});

Deno.test("verifyIso() finds the pinned key in a file of several armored keys (Fedora's fedora.gpg)", async () => {
  const w = await setup();
  const input = await detached(w, {});
  const ring = [w.stranger, w.rsa, w.pinned].map((k) => w.gpg.exportKey(k));
  const text = (await Promise.all(ring)).map((b) => decoder.decode(b)).join("\n");
  equal(
    verified(await verifyIso({ ...input, keys: [{ name: "fedora.gpg", data: text }] })).signer,
    w.pinned,
  );
});

Deno.test("verifyIso() with signature none checks the digest only and reports no signer", async () => {
  const w = await setup();
  const r = verified(
    await verifyIso({
      isoName: ISO_NAME,
      isoPath: await writeIso(w),
      checksumText: bsdSums(),
      signature: { kind: "none" },
      keys: [],
      pinned: [],
    }),
  );
  equal(r.signer, null);
  equal(r.sha256, hex(ISO_BYTES));
});

Deno.test("verifyIso() accepts detached and clearsigned signatures made by openpgp.js", async () => {
  const w = await setup();
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "rsa",
    rsaBits: 2048,
    userIDs: [{ name: "openpgp.js key", email: "js@example.invalid" }],
    format: "object",
  });
  const fpr = publicKey.getFingerprint().toUpperCase();
  const sums = bsdSums();
  const base = {
    isoName: ISO_NAME,
    isoDigest: hex(ISO_BYTES),
    keys: [{ name: "js.gpg", data: publicKey.write() }],
    pinned: [fpr],
  };
  const sig = await openpgp.sign({
    message: await openpgp.createMessage({ binary: encoder.encode(sums) }),
    signingKeys: privateKey,
    detached: true,
    format: "binary",
  });
  const r1 = await verifyIso({
    ...base,
    checksumText: sums,
    signature: { kind: "detached", data: sig as Uint8Array, encoding: "binary" },
  });
  equal(verified(r1).signer, fpr);
  const clear = await openpgp.sign({
    message: await openpgp.createCleartextMessage({ text: sums }),
    signingKeys: privateKey,
  });
  const r2 = await verifyIso({ ...base, checksumText: clear, signature: { kind: "clearsign" } });
  equal(verified(r2).signer, fpr);
  failedWith(
    await verifyIso({
      ...base,
      pinned: [w.pinned],
      checksumText: clear,
      signature: { kind: "clearsign" },
    }),
    "iso-key-unpinned",
  );
});

function fileExists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

/** Signs a fixture the way `distro` publishes it, with the pinned test key. */
async function signLikeDistro(w: World, id: string, body: string) {
  const distro = findDistro(loadCatalog(), id);
  const bytes = encoder.encode(body);
  switch (distro.signature.kind) {
    case "clearsign":
      return { checksum: encoder.encode(await w.gpg.clearsign(w.pinned, body)) };
    case "detached":
      return {
        checksum: bytes,
        signature: await w.gpg.detachSign(
          [w.pinned],
          bytes,
          distro.signature.encoding === "armored",
        ),
      };
    case "none":
      return { checksum: bytes };
  }
}

Deno.test("verifyDistroIso() verifies each catalog distro's published checksum layout", async (t) => {
  const w = await setup();
  const catalog = loadCatalog();
  for (const entry of catalog.distros) {
    const fixture = new URL(
      `../fixtures/iso/${entry.id}/${entry.checksum.file}`,
      import.meta.url,
    );
    // A distro added without a fixture shows up as ignored rather than passing unseen.
    const ignore = !fileExists(fixture);
    await t.step({
      name: entry.id,
      ignore,
      fn: async () => {
        // The real pins stay in `distro`; the throwaway key, which alone can sign here, is pinned
        // in its place for the positive check. A run-time pin (the demo's) is another test key.
        const from = entry.keys.fingerprintsFrom;
        const distro = resolveDistro(entry, {
          vars: { port: "8123" },
          pins: from ? { [from]: [w.rsa] } : {},
        });
        const pinned = distro.signature.kind === "none" ? [] : [w.pinned];
        const files = {
          ...(await signLikeDistro(w, entry.id, Deno.readTextFileSync(fixture))),
          keys: pinned.length ? [await keyFile(w, w.pinned), await keyFile(w, w.rsa)] : [],
        };
        const madeUp = hex(`kiln made-up digest: ${entry.iso.file}`);
        const r = verified(
          await verifyDistroIso({ ...distro, pinned }, { ...files, isoDigest: madeUp }),
        );
        equal(r.sha256, madeUp);
        equal(r.signer, pinned[0] ?? null);
        failedWith(
          await verifyDistroIso({ ...distro, pinned }, { ...files, isoDigest: hex("tampered") }),
          "iso-checksum-mismatch",
        );
        if (pinned.length) {
          failedWith(
            await verifyDistroIso(distro, { ...files, isoDigest: madeUp }),
            "iso-key-unpinned",
          );
        }
      },
    });
  }
});
