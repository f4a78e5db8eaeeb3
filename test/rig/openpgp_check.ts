/**
 * Checks of kiln's native signatures with openpgp.js, the other OpenPGP implementation the tests
 * hold them against (gpgv being the first).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as openpgp from "openpgp";
import type { NativeKey } from "../../signing/native_key.ts";
import { nativeClearsign, nativeDetached } from "../../signing/native_sign.ts";

/** `key`'s detached and cleartext signatures of `text` verify; a changed byte does not. */
export async function assertOpenpgpVerifies(
  verificationKeys: openpgp.Key,
  key: NativeKey,
  text: string,
): Promise<void> {
  const binary = new TextEncoder().encode(text);
  const armoredSignature = await nativeDetached(key, binary);
  const signature = await openpgp.readSignature({ armoredSignature });
  const d = await openpgp.verify({
    message: await openpgp.createMessage({ binary }),
    signature,
    verificationKeys,
    expectSigned: true,
    format: "binary",
  });
  assert.equal(d.signatures[0].keyID.toHex().toUpperCase(), key.fingerprint.slice(-16));
  const c = await openpgp.verify({
    message: await openpgp.readCleartextMessage({
      cleartextMessage: await nativeClearsign(key, text),
    }),
    verificationKeys,
    expectSigned: true,
  });
  assert.equal(c.data, text.split("\n").map((l) => l.replace(/[ \t\r]+$/, "")).join("\n"));
  binary[0] ^= 1;
  await assert.rejects(
    openpgp.verify({
      message: await openpgp.createMessage({ binary }),
      signature,
      verificationKeys,
      expectSigned: true,
    }),
    /Signed digest did not match/,
  );
}
