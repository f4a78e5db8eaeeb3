/**
 * Where the release signing key comes from, decided once for every signer: a file
 * (`--signing-key PATH`, else `KILN_SIGNING_KEY_FILE`), else the armored key itself in
 * `KILN_SIGNING_KEY`, else a throwaway key made once per workspace so local builds can sign
 * without setup. A passphrase comes from `KILN_SIGNING_KEY_PASSPHRASE`.
 *
 * The key text never leaves this module except as the unlocked {@link SigningKey}: no message
 * quotes it (each is scrubbed of it to be sure), and the throwaway key lives in the workspace
 * state folder (`.kiln/`), never in a cache entry. Tasks should take the fingerprint as a
 * parameter, never the key.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { expiryWarning } from "./expiry.ts";
import { generateRepositoryKey, KEY_FILE_EXISTS, writeKeyFiles } from "./generate.ts";
import { readSigningKey, SIGNING_KEY_INVALID, type SigningKey } from "./key.ts";

/** No key was given and a throwaway key was not allowed, or the key file does not exist. */
export const SIGNING_KEY_MISSING = "signing-key-missing";

/** Where the throwaway key of a workspace is kept, relative to the workspace root. */
export const THROWAWAY_KEY_PATH = ".kiln/throwaway-signing-key.asc";

/** The environment variables kiln reads a signing key from. */
export const SIGNING_KEY_ENV = {
  file: "KILN_SIGNING_KEY_FILE",
  armored: "KILN_SIGNING_KEY",
  passphrase: "KILN_SIGNING_KEY_PASSPHRASE",
} as const;

/** How to find the key. */
export interface KeySourceOptions {
  /** Workspace root: where the throwaway key is kept and relative paths are resolved. */
  readonly workspace: string;
  /** `--signing-key PATH`: wins over every environment variable. */
  readonly keyFile?: string;
  /** Reads an environment variable; default `Deno.env.get`. Tests pass a map. */
  readonly env?: (name: string) => string | undefined;
  /** When false, no key given is a `signing-key-missing` failure (release builds in CI). */
  readonly allowThrowaway?: boolean;
  /** The time the expiry warning is measured from; default now. */
  readonly now?: Date;
}

/** A key ready to sign, and where it came from (for the build's report). */
export interface ResolvedSigningKey {
  readonly key: SigningKey;
  readonly source: "file" | "env" | "throwaway";
  /** The key file's path, or the env var's name; never key material. */
  readonly name: string;
  /** A one-line warning when the key expires within 30 days (see `expiry.ts`), else `null`. */
  readonly warning: string | null;
}

/**
 * Resolves and unlocks the release signing key. Precedence: `keyFile`, `KILN_SIGNING_KEY_FILE`,
 * `KILN_SIGNING_KEY`, then the workspace's throwaway key (made on first use, mode 0600).
 *
 * @example
 * ```ts
 * const r = await resolveSigningKey({ workspace: Deno.cwd(), keyFile: flags.signingKey });
 * if ("reason" in r) throw new ConfigError(r.message);
 * if (r.warning) console.error(`warning: ${r.warning}`);
 * ```
 */
export async function resolveSigningKey(
  opts: KeySourceOptions,
): Promise<ResolvedSigningKey | Failure> {
  const env = opts.env ?? ((n: string) => Deno.env.get(n));
  const passphrase = nonEmpty(env(SIGNING_KEY_ENV.passphrase));
  const now = opts.now ?? new Date();
  const done = (key: SigningKey, source: ResolvedSigningKey["source"], name: string) => ({
    key,
    source,
    name,
    warning: expiryWarning(key, now),
  });

  const flagFile = nonEmpty(opts.keyFile);
  const envFile = nonEmpty(env(SIGNING_KEY_ENV.file));
  const file = flagFile ?? envFile;
  if (file !== undefined) {
    const via = flagFile !== undefined ? "--signing-key" : SIGNING_KEY_ENV.file;
    const path = resolvePath(opts.workspace, file);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      return failure(
        e instanceof Deno.errors.NotFound ? SIGNING_KEY_MISSING : SIGNING_KEY_INVALID,
        `Signing key file ${JSON.stringify(file)} (from ${via}) cannot be read (${
          e instanceof Error ? e.name : "error"
        }); fix the path or run "kiln keys generate --out ${file}"`,
      );
    }
    const key = await unlock(text, `file ${JSON.stringify(file)}`, passphrase);
    return "reason" in key ? key : done(key, "file", file);
  }

  const armored = nonEmpty(env(SIGNING_KEY_ENV.armored));
  if (armored !== undefined) {
    if (!armored.includes("-----BEGIN PGP")) {
      return failure(
        SIGNING_KEY_INVALID,
        `${SIGNING_KEY_ENV.armored} must hold the armored private key itself; ` +
          `to name a key file set ${SIGNING_KEY_ENV.file} instead`,
      );
    }
    const key = await unlock(armored, SIGNING_KEY_ENV.armored, passphrase);
    return "reason" in key ? key : done(key, "env", SIGNING_KEY_ENV.armored);
  }

  if (opts.allowThrowaway === false) {
    return failure(
      SIGNING_KEY_MISSING,
      `No signing key given; set ${SIGNING_KEY_ENV.file} (or ${SIGNING_KEY_ENV.armored}) to the ` +
        `release key, or make one with "kiln keys generate"`,
    );
  }
  const key = await throwawayKey(opts.workspace);
  return "reason" in key ? key : done(key, "throwaway", THROWAWAY_KEY_PATH);
}

/**
 * The workspace's throwaway key: read when it exists, else made once and kept at
 * {@link THROWAWAY_KEY_PATH} (mode 0600). Two builds starting at once agree on one key: the file
 * is linked into place only if absent, and the loser reads the winner's.
 */
async function throwawayKey(workspace: string): Promise<SigningKey | Failure> {
  const path = `${workspace}/${THROWAWAY_KEY_PATH}`;
  const name = `throwaway key ${JSON.stringify(THROWAWAY_KEY_PATH)}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== undefined) {
      const key = await unlock(text, name, undefined);
      if ("reason" in key) {
        return failure(key.reason, `${key.message}; or delete it to make a new throwaway key`);
      }
      return key;
    }
    await Deno.mkdir(`${workspace}/.kiln`, { recursive: true });
    const made = await generateRepositoryKey({
      name: "kiln throwaway signing key",
      email: "throwaway@kiln.invalid",
      algorithm: "ed25519",
    });
    const written = await writeKeyFiles(path, made, { publicFile: false });
    if (!("reason" in written)) {
      const key = await unlock(made.privateArmored, name, undefined);
      if ("reason" in key) throw new Error(`a fresh throwaway key did not read: ${key.message}`);
      return key;
    }
    // Another build made it first: read theirs.
    if (written.reason !== KEY_FILE_EXISTS || attempt === 1) return written;
  }
  throw new Error("unreachable");
}

/** {@link readSigningKey}, with the key text and passphrase scrubbed from any message. */
async function unlock(
  armored: string,
  name: string,
  passphrase: string | undefined,
): Promise<SigningKey | Failure> {
  const key = await readSigningKey(armored, name, passphrase);
  if (!("reason" in key)) return key;
  return failure(key.reason, scrub(key.message, [armored, passphrase ?? ""]));
}

/**
 * `message` with every line of each secret (8 characters or longer) replaced by `[redacted]`: a
 * parser error that echoes its input must not carry key material into a log.
 */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    const parts = [secret.trim(), ...secret.split(/\r?\n/).map((l) => l.trim())];
    for (const part of parts.filter((p) => p.length >= 8).sort((a, b) => b.length - a.length)) {
      out = out.split(part).join("[redacted]");
    }
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

function resolvePath(workspace: string, path: string): string {
  return path.startsWith("/") ? path : `${workspace}/${path}`;
}
