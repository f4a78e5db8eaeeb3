/**
 * The warning a build prints when its signing key is about to expire: signatures made with an
 * expired key stop verifying for every user at once, so the time to extend it is before, and the
 * build is where a maintainer will see it.
 *
 * @module
 */

import type { SigningKey } from "./key.ts";

/** How many days before expiry the warning starts. */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A one-line warning when `key` expires within {@link EXPIRY_WARNING_DAYS} days of `now` (or has
 * expired), naming the fingerprint, the date and the fix; `null` when it does not expire soon.
 *
 * @example
 * ```ts
 * const w = expiryWarning(key, new Date());
 * if (w) console.error(`warning: ${w}`);
 * ```
 */
export function expiryWarning(
  key: Pick<SigningKey, "fingerprint" | "expires">,
  now: Date,
): string | null {
  if (key.expires === null) return null;
  const left = key.expires.getTime() - now.getTime();
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return null;
  const date = key.expires.toISOString().slice(0, 10);
  const fix = `extend it with "gpg --quick-set-expire ${key.fingerprint} 1y" and republish the ` +
    `public key, or make a new one with "kiln keys generate"`;
  if (left <= 0) {
    return `Signing key ${key.fingerprint} expired on ${date}; signatures made with it do not ` +
      `verify; ${fix}`;
  }
  const days = Math.ceil(left / DAY_MS);
  return `Signing key ${key.fingerprint} expires on ${date} (in ${days} ${
    days === 1 ? "day" : "days"
  }); ${fix}`;
}
