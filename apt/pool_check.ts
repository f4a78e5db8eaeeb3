/**
 * The failure kiln gives instead of signing indexes that do not match the pool. A signed index
 * whose files differ makes every client's download fail with "Hash Sum mismatch" (or, had a file
 * been swapped on purpose, hands clients whatever it now holds once someone re-hashes it), so
 * kiln refuses to publish and leaves the previous release as it was. The check itself is in
 * `publish.ts`: every listed pool file is either hashed in that publish or still has the stat
 * signature (size, mtime in ns, inode, ctime) it had when hashed, and matches what was published.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/** A pool file is missing or differs from the index entry that lists it. */
export const APT_POOL_MISMATCH = "apt-pool-mismatch";

/** The failure for a pool file that does not match `index`'s entry; `problem` says how. */
export function poolMismatch(poolRel: string, index: string, problem: string): Failure {
  return failure(
    APT_POOL_MISMATCH,
    `Pool file ${JSON.stringify(poolRel)} listed in ${JSON.stringify(index)} ${problem}; ` +
      `restore it or add the package again (nothing was published)`,
  );
}
