/**
 * The date kiln's release is stamped with: `SOURCE_DATE_EPOCH` when set (every release task
 * declares it, so it enters their keys), else the date below, which a release bumps with its
 * version. A fixed default rather than "now" keeps a rebuild byte-identical and a no-op rerun a
 * no-op.
 *
 * @module
 */

import type { Failure } from "../engine/failure.ts";
import { releaseDate } from "../release/source_date.ts";

/** The default release date (UTC), used when SOURCE_DATE_EPOCH is unset. */
export const RELEASE_DATE = "2026-11-21T00:00:00Z";

/** The release time in epoch seconds, from a task's env. */
export function releaseEpoch(env: Readonly<Record<string, string>>): number | Failure {
  const d = releaseDate((n) => env[n], () => new Date(RELEASE_DATE));
  return "reason" in d ? d : Math.floor(d.getTime() / 1000);
}
