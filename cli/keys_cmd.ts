/**
 * `kiln keys generate`: makes a repository signing key, writes the private key (mode 0600, never
 * over an existing file) and `<path>.pub.asc`, and prints the fingerprint, algorithm, expiry and
 * how to sign with it. The private key is never printed.
 *
 * @module
 */

import { ConfigError } from "../engine/failure.ts";
import {
  generateRepositoryKey,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  writeKeyFiles,
} from "../signing/generate.ts";
import { SIGNING_KEY_ENV } from "../signing/key_source.ts";
import { EXIT } from "./exit.ts";

/** Flags of `kiln keys generate`, as commander parses them. */
export interface KeysGenerateFlags {
  readonly name?: string;
  readonly email?: string;
  readonly algorithm?: string;
  readonly expires?: string;
  readonly out?: string;
}

/** Defaults of `kiln keys generate`, shared with the help text in `main.ts`. */
export const KEYS_GENERATE_DEFAULTS = {
  name: "kiln release signing key",
  algorithm: "ed25519",
  expires: "2y",
  out: "kiln-signing-key.asc",
} as const;

/**
 * Days in an `--expires` value: `2y` (365-day years), `365d`, `8w`, or `never` (0). `null` when
 * it is none of those.
 */
export function parseExpires(v: string): number | null {
  if (v === "never") return 0;
  const m = /^([1-9]\d{0,4})([dwy])$/.exec(v);
  if (!m) return null;
  return Number(m[1]) * { d: 1, w: 7, y: 365 }[m[2] as "d" | "w" | "y"];
}

/**
 * `kiln keys generate`. A passphrase in KILN_SIGNING_KEY_PASSPHRASE encrypts the private key;
 * builds unlock it with the same variable.
 */
export async function keysGenerateCommand(
  flags: KeysGenerateFlags,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<number> {
  const algorithm = flags.algorithm ?? KEYS_GENERATE_DEFAULTS.algorithm;
  if (!(KEY_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new ConfigError(
      `Key algorithm ${JSON.stringify(algorithm)} is not supported; use ${
        KEY_ALGORITHMS.join(" or ")
      }`,
    );
  }
  const expiresText = flags.expires ?? KEYS_GENERATE_DEFAULTS.expires;
  const days = parseExpires(expiresText);
  if (days === null) {
    throw new ConfigError(
      `Expiry ${JSON.stringify(expiresText)} is not valid; write it like 2y, 365d, 8w or never`,
    );
  }
  const name = flags.name ?? KEYS_GENERATE_DEFAULTS.name;
  if (name.trim() === "" || /[<>\n]/.test(name)) {
    throw new ConfigError(
      `Key name ${JSON.stringify(name)} must be non-empty without <, > or newlines`,
    );
  }
  if (flags.email !== undefined && !/^[^\s<>@]+@[^\s<>@]+$/.test(flags.email)) {
    throw new ConfigError(`Email ${JSON.stringify(flags.email)} is not an address like a@b.org`);
  }
  const out = flags.out ?? KEYS_GENERATE_DEFAULTS.out;
  const passphrase = env(SIGNING_KEY_ENV.passphrase) || undefined;

  const key = await generateRepositoryKey({
    name,
    email: flags.email,
    algorithm: algorithm as KeyAlgorithm,
    expiresInDays: days,
    passphrase,
  });
  const files = await writeKeyFiles(out, key);
  if ("reason" in files) throw new ConfigError(files.message);

  const expiry = key.expires
    ? `${key.expires.toISOString().slice(0, 10)} (in ${days} days)`
    : "never";
  const lines = [
    `Generated ${algorithm} signing key`,
    `  fingerprint: ${key.fingerprint}`,
    `  user ID:     ${key.userId}`,
    `  algorithm:   ${algorithm === "ed25519" ? "Ed25519 (EdDSA, OpenPGP v4)" : "RSA 4096"}`,
    `  expires:     ${expiry}`,
    `  private key: ${files.privatePath} (mode 0600${
      passphrase ? `, encrypted with ${SIGNING_KEY_ENV.passphrase}` : ""
    }; keep it secret, never commit it)`,
    `  public key:  ${files.publicPath} (publish it; users verify with gpgv --keyring)`,
    `Sign releases with it:`,
    `  ${SIGNING_KEY_ENV.file}=${shellQuote(files.privatePath)}${
      passphrase ? ` ${SIGNING_KEY_ENV.passphrase}=...` : ""
    } deno task build`,
  ];
  Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
  return EXIT.ok;
}

function shellQuote(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
