/**
 * Reading signing keys: key files as fetched (armored or binary, possibly several blocks), of
 * which only the keys whose primary fingerprint is pinned are kept. Kept apart from
 * `signature.ts` because choosing which keys to trust is a separate decision from checking what
 * they signed, and is where a wrong or missing pin shows up (`iso-key-unpinned`).
 *
 * @module
 */

import * as openpgp from "openpgp";
import { type Failure, failure } from "../engine/failure.ts";

/** No pinned key is available, or the signer is not pinned. */
export const KEY_UNPINNED = "iso-key-unpinned";

/** A key file as fetched (armored text, or binary packets), with a name for messages. */
export interface KeyMaterial {
  readonly name: string;
  readonly data: Uint8Array | string;
}

/** The pinned public keys found in some key material: the only keys a signature may come from. */
export interface PinnedKeys {
  readonly keys: readonly openpgp.PublicKey[];
  /** The pinned fingerprints (uppercase hex), for messages. */
  readonly pinned: readonly string[];
}

const FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;
const KEY_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;
const decoder = new TextDecoder();

/**
 * `fpr` in the canonical form pins are compared in: uppercase hex, spaces removed. Throws on
 * anything but a full v4 (40 hex) or v6 (64 hex) fingerprint: a short key ID is not a pin.
 */
export function normalizeFingerprint(fpr: string): string {
  const out = fpr.replace(/\s+/g, "").toUpperCase();
  if (!FINGERPRINT.test(out)) {
    throw new Error(`not a full OpenPGP fingerprint: ${JSON.stringify(fpr)}`);
  }
  return out;
}

/** The first line of an error, without a trailing period or colon, for a failure message. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0].replace(/[.:]\s*$/, "");
}

/** Whether `data` starts as ASCII armor (`-----BEGIN PGP ...`) rather than binary packets. */
export function looksArmored(data: Uint8Array | string): boolean {
  const head = typeof data === "string" ? data.slice(0, 200) : decoder.decode(data.slice(0, 200));
  return head.trimStart().startsWith("-----BEGIN PGP ");
}

async function readMaterial(m: KeyMaterial): Promise<openpgp.PublicKey[] | Failure> {
  try {
    let keys: openpgp.Key[];
    if (looksArmored(m.data)) {
      const text = typeof m.data === "string" ? m.data : decoder.decode(m.data);
      const blocks = text.match(KEY_BLOCK) ?? [];
      if (blocks.length === 0) throw new Error("no PUBLIC KEY BLOCK in the armored text");
      keys = [];
      for (const block of blocks) keys.push(...await openpgp.readKeys({ armoredKeys: block }));
    } else {
      if (typeof m.data === "string") throw new Error("text that is not armored");
      keys = await openpgp.readKeys({ binaryKeys: m.data });
    }
    return keys.map((k) => k.isPrivate() ? k.toPublic() : k as openpgp.PublicKey);
  } catch (e) {
    return failure(
      KEY_UNPINNED,
      `Key file ${JSON.stringify(m.name)} is not OpenPGP key material (${
        errorText(e)
      }); fetch it again or fix its URL in iso/catalog.yaml`,
    );
  }
}

/**
 * Reads every key in `material` and keeps those whose primary fingerprint is in `pinned`.
 * Fails with `iso-key-unpinned` when a file cannot be read, or no pinned key is among them.
 *
 * @example
 * ```ts
 * const keys = await readPinnedKeys(
 *   [{ name: "RPM-GPG-KEY-AlmaLinux-9", data: await Deno.readFile("RPM-GPG-KEY-AlmaLinux-9") }],
 *   ["BF18AC2876178908D6E71267D36CB86CB86B3716"],
 * );
 * ```
 */
export async function readPinnedKeys(
  material: readonly KeyMaterial[],
  pinned: readonly string[],
): Promise<PinnedKeys | Failure> {
  const pins = [...new Set(pinned.map(normalizeFingerprint))];
  if (pins.length === 0) {
    return failure(
      KEY_UNPINNED,
      "No signing-key fingerprint is pinned, so no signature can be trusted; " +
        "add the distro's fingerprints to keys.fingerprints in iso/catalog.yaml",
    );
  }
  const found = new Map<string, openpgp.PublicKey>();
  for (const m of material) {
    const keys = await readMaterial(m);
    if ("reason" in keys) return keys;
    for (const k of keys) {
      const fpr = k.getFingerprint().toUpperCase();
      if (!found.has(fpr)) found.set(fpr, k);
    }
  }
  const keys = pins.flatMap((p) => found.has(p) ? [found.get(p)!] : []);
  if (keys.length === 0) {
    const names = material.map((m) => JSON.stringify(m.name)).join(", ") || "no key files";
    const seen = [...found.keys()].join(", ") || "none";
    return failure(
      KEY_UNPINNED,
      `No pinned key in ${names} (found ${seen}; pinned ${
        pins.join(", ")
      }); check the key URLs and fingerprints in iso/catalog.yaml`,
    );
  }
  return { keys, pinned: pins };
}
