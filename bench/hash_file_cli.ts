/**
 * Spawned by the hashing scenario: `deno run -A bench/hash_file_cli.ts FILE` hashes FILE with
 * kiln's `hashFile` (engine/hash.ts) and prints one JSON line `{ digest, size, ms }`, where `ms`
 * is the time of `hashFile` alone (without process start-up).
 *
 * @module
 */

import { hashFile } from "../engine/hash.ts";

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: deno run -A bench/hash_file_cli.ts FILE");
    Deno.exit(2);
  }
  const start = performance.now();
  const { digest, size } = await hashFile(path);
  const ms = performance.now() - start;
  console.log(JSON.stringify({ digest, size, ms }));
}
