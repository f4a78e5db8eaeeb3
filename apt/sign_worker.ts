/**
 * The worker side of {@link AptWorkerSigner} (see `worker_signer.ts`): reads and checks the key
 * (`readSigningKey`: kiln's own reader, or openpgp.js) and signs `Release` texts, all on its own
 * thread. Messages in: `{ type: "key",
 * armored, name, passphrase? }` once, then `{ type: "sign", id, release }`; out: `{ id, inRelease,
 * detached }` or `{ id, failure }`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { Failure } from "../engine/failure.ts";
import { readSigningKey, type SigningKey } from "../signing/key.ts";
import { clearsign, signDetached } from "../signing/sign.ts";
import { checkAptSigningKey } from "./key_check.ts";

let key: Promise<SigningKey | Failure> | undefined;

async function load(armored: string, name: string, passphrase?: string) {
  const k = await readSigningKey(armored, name, passphrase);
  if ("reason" in k) return k;
  return await checkAptSigningKey(k) ?? k;
}

self.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  if (m.type === "key") {
    key = load(m.armored, m.name, m.passphrase);
    return;
  }
  try {
    const k = await key!;
    if ("reason" in k) {
      self.postMessage({ id: m.id, failure: { reason: k.reason, message: k.message } });
      return;
    }
    // openpgp.js writes the cleartext with CRLF line ends; the signature is over the canonical
    // (CRLF) text either way, so InRelease keeps Release's own LF lines, as Debian's do.
    const [clear, detached] = await Promise.all([
      clearsign(k, m.release),
      signDetached(k, m.release),
    ]);
    self.postMessage({ id: m.id, inRelease: clear.replaceAll("\r\n", "\n"), detached });
  } catch (err) {
    self.postMessage({ id: m.id, error: err instanceof Error ? err.stack ?? err.message : err });
  }
};
