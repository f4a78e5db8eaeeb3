/**
 * The release signing key as a pipeline step. `release:key` publishes the public key
 * (`dist/release/kiln-release-key.asc`); every signing task depends on it, so the public key's
 * digest enters their keys and a new key re-signs everything while an unchanged one signs
 * nothing again.
 *
 * The private key never enters a task's params, a log or a cache entry: signing tasks declare
 * `KILN_SIGNING_KEY_FILE` (a path) as env and `KILN_SIGNING_KEY` (the armored key) as
 * `secretEnv` (only its digest is kept), and resolve the key inside their action. The content of
 * the key file and of the workspace's throwaway key is digested into a param and listed as a
 * config file, so replacing a key in place is seen too.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { join } from "../engine/path.ts";
import { sha256Small } from "../engine/sha256_small.ts";
import type { Task, TaskContext } from "../engine/task.ts";
import type { ResolvedSigningKey } from "../signing/key_source.ts";

/** The id of the task that publishes the public key. */
export const KEY_TASK = "release:key";
/** Where the public key is published. */
export const PUBLIC_KEY = "dist/release/kiln-release-key.asc";
/** A signing task found a different key than `release:key` published (it changed mid-build). */
export const SIGNING_KEY_CHANGED = "signing-key-changed";

const KEY_FILE_ENV = "KILN_SIGNING_KEY_FILE";
const KEY_ENV = "KILN_SIGNING_KEY";
const PASSPHRASE_ENV = "KILN_SIGNING_KEY_PASSPHRASE";
const THROWAWAY = ".kiln/throwaway-signing-key.asc";

/** What a signing task declares so that its key follows the signing key. */
export const SIGNING_ENV: Pick<Task, "env" | "secretEnv"> = {
  env: [KEY_FILE_ENV],
  secretEnv: [KEY_ENV],
};

function digestOf(path: string): string {
  try {
    return sha256Small(Deno.readFileSync(path));
  } catch {
    return "none";
  }
}

/**
 * The `release:key` task of workspace `root`, and the files whose content decides the key (for
 * the build stamp). With `makeKey`, when no key is set and the workspace has no throwaway key
 * yet, it is made now, once, so that the task's key does not change between the first build and
 * the next; without it (`kiln list`, a build of OS images only) nothing is made.
 */
export async function keyTask(
  root: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
  makeKey = true,
): Promise<{ task: Task; configFiles: string[] }> {
  const file = env(KEY_FILE_ENV);
  const keyFile = file ? (file.startsWith("/") ? file : join(root, file)) : join(root, THROWAWAY);
  if (makeKey && !file && !env(KEY_ENV) && digestOf(keyFile) === "none") {
    const { resolveSigningKey } = await import("../signing/key_source.ts");
    await resolveSigningKey({ workspace: root, env: () => undefined }); // makes the throwaway key
  }
  return {
    configFiles: [keyFile],
    task: {
      id: KEY_TASK,
      description: "The release signing key's public half (a throwaway key unless one is set)",
      ...SIGNING_ENV,
      params: { keyFile: digestOf(keyFile) },
      outputs: [PUBLIC_KEY],
      action: {
        kind: "fn",
        module: import.meta.url,
        run: async (ctx) => {
          const key = await releaseKey(ctx);
          if ("reason" in key) return key;
          await Deno.writeTextFile(ctx.path(PUBLIC_KEY), key.key.publicArmored);
          ctx.log(`signing key ${key.key.fingerprint} (${key.source}: ${key.name})`);
        },
      },
    },
  };
}

/**
 * Resolves the signing key inside a signing task's action, from the task's declared env (plus
 * the passphrase, which is read but never declared: it does not change what is signed). When
 * `published` is given, the key must be the one `release:key` published.
 */
export async function releaseKey(
  ctx: TaskContext,
  published?: string,
): Promise<ResolvedSigningKey | Failure> {
  const { resolveSigningKey } = await import("../signing/key_source.ts");
  const r = await resolveSigningKey({
    workspace: ctx.root,
    env: (n) => (n === PASSPHRASE_ENV ? Deno.env.get(n) : ctx.env[n]),
  });
  if ("reason" in r) return r;
  if (r.warning) ctx.warn(r.warning);
  if (published !== undefined) {
    const text = await Deno.readTextFile(ctx.path(published));
    if (text !== r.key.publicArmored) {
      return failure(
        SIGNING_KEY_CHANGED,
        `The signing key changed during the build (now ${r.key.fingerprint}); rerun the build`,
      );
    }
  }
  return r;
}
