/**
 * Making a repository signing key (`kiln keys generate`, and the throwaway key of a workspace that
 * has none). The key must verify with the tools release consumers have: GnuPG 2.2's `gpgv` and
 * apt's `sqv` reject RFC 9580's new Ed25519 keys, so Ed25519 is the v4 EdDSA form
 * (`ed25519Legacy`), and every binding signature uses SHA-512 (apt refuses SHA-1).
 *
 * @module
 */

import * as openpgp from "openpgp";
import { type Failure, failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";

/** Key algorithms kiln makes: small fast Ed25519, or RSA 4096 for verifiers without EdDSA. */
export type KeyAlgorithm = "ed25519" | "rsa4096";

/** The algorithms {@link generateRepositoryKey} accepts, for flag validation and help. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["ed25519", "rsa4096"];

/** What to put in a new key. */
export interface GenerateKeyOptions {
  /** User ID name, e.g. `Example release signing`. */
  readonly name: string;
  /** User ID email; optional (a name-only user ID is valid OpenPGP). */
  readonly email?: string;
  readonly algorithm: KeyAlgorithm;
  /** Days until the key expires; omit or 0 for a key that never expires. */
  readonly expiresInDays?: number;
  /** Encrypts the private key with this passphrase (unlock it with KILN_SIGNING_KEY_PASSPHRASE). */
  readonly passphrase?: string;
  /** Creation time; default now. Tests pin it to get a key that is about to expire. */
  readonly date?: Date;
}

/** A new key pair. `privateArmored` is a secret: write it to a 0600 file, never print it. */
export interface GeneratedKey {
  readonly privateArmored: string;
  readonly publicArmored: string;
  /** Primary key fingerprint, uppercase hex. */
  readonly fingerprint: string;
  /** When the key expires, or `null` when it does not. */
  readonly expires: Date | null;
  readonly algorithm: KeyAlgorithm;
  /** The user ID as written in the key, e.g. `kiln release <release@example.org>`. */
  readonly userId: string;
}

const DAY_SECONDS = 24 * 60 * 60;

/**
 * Makes an OpenPGP key pair for signing releases and repository indexes. The primary key signs
 * (certify + sign); a subkey encrypts, as GnuPG's default layout.
 *
 * @example
 * ```ts
 * const k = await generateRepositoryKey({ name: "acme release", algorithm: "ed25519", expiresInDays: 730 });
 * console.log(k.fingerprint, k.expires);
 * ```
 */
export async function generateRepositoryKey(opts: GenerateKeyOptions): Promise<GeneratedKey> {
  const days = opts.expiresInDays ?? 0;
  if (!Number.isInteger(days) || days < 0) {
    throw new Error(`expiresInDays must be a whole number >= 0, got ${days}`);
  }
  const userIDs = [{ name: opts.name, ...(opts.email ? { email: opts.email } : {}) }];
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...(opts.algorithm === "rsa4096"
      ? { type: "rsa" as const, rsaBits: 4096 }
      : { type: "ecc" as const, curve: "ed25519Legacy" as const }),
    userIDs,
    keyExpirationTime: days * DAY_SECONDS,
    date: opts.date,
    passphrase: opts.passphrase,
    format: "object",
    config: {
      preferredHashAlgorithm: openpgp.enums.hash.sha512,
      v6Keys: false,
    },
  });
  const expiry = await publicKey.getExpirationTime();
  const user = await publicKey.getPrimaryUser(opts.date);
  return {
    privateArmored: privateKey.armor(),
    publicArmored: publicKey.armor(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
    expires: expiry instanceof Date ? expiry : null,
    algorithm: opts.algorithm,
    userId: user.user.userID?.userID ?? opts.name,
  };
}

/** A key file to be written already exists; kiln never overwrites a key. */
export const KEY_FILE_EXISTS = "key-file-exists";

/** Where {@link writeKeyFiles} put a key pair. */
export interface KeyFiles {
  /** The private key, mode 0600. */
  readonly privatePath: string;
  /** The public key, `<privatePath>.pub.asc`, mode 0644; `null` when not asked for. */
  readonly publicPath: string | null;
}

/**
 * Writes `key`'s private half to `path` (mode 0600) and, unless `publicFile` is false, its public
 * half to `<path>.pub.asc`. Each file appears whole or not at all (written aside, then hard-linked
 * into place), and an existing file is never replaced: a lost private key cannot be made again,
 * so a second `keys generate` with the same path fails with `key-file-exists` and leaves both
 * files as they were.
 *
 * @example
 * ```ts
 * const files = await writeKeyFiles("release.key.asc", await generateRepositoryKey(opts));
 * if ("reason" in files) console.error(files.message);
 * ```
 */
export async function writeKeyFiles(
  path: string,
  key: Pick<GeneratedKey, "privateArmored" | "publicArmored">,
  opts: { publicFile?: boolean } = {},
): Promise<KeyFiles | Failure> {
  const publicPath = `${path}.pub.asc`;
  const withPublic = opts.publicFile ?? true;
  for (const p of withPublic ? [path, publicPath] : [path]) {
    if (await exists(p)) {
      return failure(
        KEY_FILE_EXISTS,
        `Key file ${JSON.stringify(p)} already exists and kiln never overwrites a key; ` +
          `choose another --out path or move the old key away`,
      );
    }
  }
  if (!await createExclusive(path, key.privateArmored, 0o600)) {
    return failure(KEY_FILE_EXISTS, `Key file ${JSON.stringify(path)} appeared while writing it`);
  }
  if (withPublic && !await createExclusive(publicPath, key.publicArmored, 0o644)) {
    await Deno.remove(path);
    return failure(
      KEY_FILE_EXISTS,
      `Key file ${JSON.stringify(publicPath)} appeared while writing it`,
    );
  }
  return { privatePath: path, publicPath: withPublic ? publicPath : null };
}

function exists(path: string): Promise<boolean> {
  return Promise.resolve(statFile(path) !== null);
}

/** Writes `text` aside with `mode`, then links it to `path`; false when `path` exists. */
async function createExclusive(path: string, text: string, mode: number): Promise<boolean> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const tmp = `${dir}/.${path.slice(slash + 1)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      await Deno.chmod(tmp, mode); // the umask may have narrowed the mode
      const bytes = new TextEncoder().encode(text);
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
    try {
      await Deno.link(tmp, path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
