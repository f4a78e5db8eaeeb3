/**
 * Exit codes and how a configuration error ends a command, shared by every command.
 *
 * @module
 */

import { ConfigError } from "../engine/failure.ts";

/** Exit codes: 0 success, 1 a task failed, 2 bad usage or configuration, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Prints a `ConfigError` as one line and returns exit code 2; rethrows anything else (a bug). */
export function configErrorExit(e: unknown): number {
  if (e instanceof ConfigError) {
    Deno.stderr.writeSync(new TextEncoder().encode(`error: ${e.message}\n`));
    return EXIT.usage;
  }
  throw e;
}
