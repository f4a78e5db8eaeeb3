/**
 * The build stamp: ninja-speed no-op builds.
 *
 * After a build in which every selected task succeeded and was cached, kiln writes one file
 * listing everything that build consulted (input and output files with the stat signature their
 * digests were taken at, listed folders, tool binaries, action modules) together with the task
 * file's exact text, the targets, the values of every declared env var and the platform. The next
 * build of the same targets first compares all of that with a stat per path: if nothing differs,
 * every task is fresh, and kiln says so without loading the graph, the state or fingerprints.
 * Any difference, or any doubt, falls through to the full build, which is always correct.
 *
 * Racy writes: the stamp is only kept when every listed file's mtime is older than the stamp
 * file's own mtime (same filesystem clock); a later edit, even within the same timestamp tick
 * as a listed file's last write, then necessarily changes that file's signature.
 *
 * @module
 */

import { replaceFileAtomic } from "./durable.ts";
import { FINGERPRINT_VERSION, secretDigest } from "./fingerprint.ts";
import { join, kilnDir } from "./path.ts";
import { statFile } from "./stat.ts";
import { removeIfExists } from "./fs_util.ts";

/** What must be identical for a stamp to apply. */
export interface StampIdentity {
  /** The task file's exact text (or another complete description of the task set). */
  readonly config: string;
  readonly targets: readonly string[];
}

/** A stamp: identity plus paths, signatures and the tasks it covers. */
export interface Stamp extends StampIdentity {
  readonly v: 1;
  readonly platform: string;
  /** Declared env var -> value (`null` when unset), over all stamped tasks. */
  readonly env: Readonly<Record<string, string | null>>;
  /** Declared secret env var -> {@link secretDigest} of its value. */
  readonly secrets?: Readonly<Record<string, string | null>>;
  /** Absolute path -> stat signature (`""` for "did not exist"). */
  readonly paths: Readonly<Record<string, string>>;
  readonly tasks: readonly string[];
}

const STAMP_VERSION = 1;

/** Where a workspace's stamp lives. */
export function stampPath(root: string): string {
  return join(kilnDir(root), "stamp.json");
}

function platform(): string {
  return `${Deno.build.os}/${Deno.build.arch}/v${STAMP_VERSION}/fp${FINGERPRINT_VERSION}`;
}

function mtimeOf(sig: string): bigint {
  return BigInt(sig.split(":")[1] ?? "0");
}

/**
 * Writes the stamp of a complete build. The signatures are those the build saw (no path is
 * statted again here): a file edited since then no longer matches, so the next check falls
 * through to a full build, which sees the edit. Removes any old stamp when the new one cannot be
 * trusted (a listed file was written within the stamp's own timestamp tick).
 */
export function writeStamp(
  root: string,
  id: StampIdentity,
  env: Readonly<Record<string, string | null>>,
  paths: Map<string, string>,
  tasks: readonly string[],
  secrets: Readonly<Record<string, string | null>> = {},
): boolean {
  const path = stampPath(root);
  const stamp: Stamp = {
    v: 1,
    platform: platform(),
    config: id.config,
    targets: [...id.targets].sort(),
    env,
    ...(Object.keys(secrets).length ? { secrets } : {}),
    paths: Object.fromEntries(paths),
    tasks,
  };
  replaceFileAtomic(path, JSON.stringify(stamp));
  const written = statFile(path)!.mtimeNs;
  for (const sig of paths.values()) {
    if (sig && mtimeOf(sig) >= written) {
      removeIfExists(path); // racy: the next full build writes a trustworthy one
      return false;
    }
  }
  return true;
}

/** Deletes the stamp: the workspace changed in a way the stamp does not describe. */
export function dropStamp(root: string): void {
  removeIfExists(stampPath(root));
}

/**
 * The tasks of the stamped build when the stamp applies to `id` and nothing it lists changed;
 * otherwise `null`.
 */
export function checkStamp(
  root: string,
  id: StampIdentity,
  env: (name: string) => string | undefined,
): readonly string[] | null {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(Deno.readTextFileSync(stampPath(root)));
  } catch {
    return null;
  }
  if (stamp.v !== 1 || stamp.platform !== platform() || stamp.config !== id.config) return null;
  const targets = [...id.targets].sort();
  if (targets.length !== stamp.targets.length) return null;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== stamp.targets[i]) return null;
  for (const [name, value] of Object.entries(stamp.env)) {
    if ((env(name) ?? null) !== value) return null;
  }
  for (const [name, digest] of Object.entries(stamp.secrets ?? {})) {
    if (secretDigest(env(name)) !== digest) return null;
  }
  for (const p in stamp.paths) {
    if ((statFile(p)?.sig ?? "") !== stamp.paths[p]) return null;
  }
  return stamp.tasks;
}
