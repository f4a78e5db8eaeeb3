/**
 * The 2 GiB file of random bytes that the hashing and large-restore scenarios read. It is made
 * once and reused by later runs.
 *
 * @module
 */

import { join } from "node:path";
import { WORK_DIR } from "./paths.ts";
import { fileSize, removePath } from "./workspace_fs.ts";

/** 2 GiB. */
export const BIG_SIZE = 2 * 1024 ** 3;

/** Where the random data file lives: `bench/.work/random-2GiB.bin`. */
export const BIG_FILE: string = join(WORK_DIR, "random-2GiB.bin");

/**
 * Makes sure `path` holds `size` random bytes, writing it from `/dev/urandom` when it is missing
 * or has another size; returns `path`.
 *
 * @param log told when the file has to be written (it takes a few seconds)
 */
export async function ensureRandomFile(
  path = BIG_FILE,
  size = BIG_SIZE,
  log: (line: string) => void = () => {},
): Promise<string> {
  if (fileSize(path) === size) return path;
  log(`writing ${size} random bytes to ${path} (once)`);
  Deno.mkdirSync(WORK_DIR, { recursive: true });
  const tmp = `${path}.tmp`;
  const out = await new Deno.Command("sh", {
    args: ["-c", 'head -c "$1" /dev/urandom > "$2"', "sh", String(size), tmp],
    stdin: "null",
  }).output();
  if (!out.success || fileSize(tmp) !== size) {
    removePath(tmp);
    throw new Error(`could not write ${size} random bytes to ${tmp}`);
  }
  Deno.renameSync(tmp, path);
  return path;
}
