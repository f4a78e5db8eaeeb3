/**
 * The release date of a reproducible build: `SOURCE_DATE_EPOCH` (seconds since 1970, UTC), as
 * https://reproducible-builds.org/specs/source-date-epoch/ defines it, so that the manifest and
 * SBOM of two builds of the same sources are byte-identical.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/** `SOURCE_DATE_EPOCH` is set but is not a whole number of seconds. */
export const SOURCE_DATE_INVALID = "source-date-invalid";

/**
 * The release time from `SOURCE_DATE_EPOCH` read through `env`, or `fallback` (default now) when
 * it is unset.
 *
 * @example
 * ```ts
 * const date = releaseDate((n) => Deno.env.get(n));
 * ```
 */
export function releaseDate(
  env: (name: string) => string | undefined,
  fallback: () => Date = () => new Date(),
): Date | Failure {
  const v = env("SOURCE_DATE_EPOCH");
  if (v === undefined || v === "") return fallback();
  if (!/^\d{1,15}$/.test(v)) {
    return failure(
      SOURCE_DATE_INVALID,
      `SOURCE_DATE_EPOCH ${JSON.stringify(v)} is not a whole number of seconds since 1970; ` +
        `set it to e.g. "$(git log -1 --format=%ct)"`,
    );
  }
  return new Date(Number(v) * 1000);
}

/** ISO 8601 UTC to the second, e.g. `2024-05-01T12:00:00Z`. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
