/**
 * `kiln cache stats|verify|gc|clean`: maintenance of the local cache folder.
 *
 * @module
 */

import { ConfigError } from "../engine/failure.ts";
import { defaultCacheDir } from "../engine/store.ts";
import { cacheStats, cleanCache, gcCache, parseSize, verifyCache } from "../engine/store_admin.ts";
import { EXIT } from "./exit.ts";

const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

/** Formats bytes with binary units. */
function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** `kiln cache stats`. */
export function statsCommand(flags: { json?: boolean }): number {
  const s = cacheStats(defaultCacheDir());
  if (flags.json) out(JSON.stringify(s));
  else {
    out(`cache:   ${s.dir}`);
    out(`entries: ${s.entries}`);
    out(`blobs:   ${s.blobs} (${formatBytes(s.blobBytes)})`);
    if (s.tmpFiles) out(`pending: ${s.tmpFiles} temporary files`);
  }
  return EXIT.ok;
}

/** `kiln cache verify`: exit 1 when anything is corrupt (and not repaired). */
export async function verifyCommand(flags: { repair?: boolean }): Promise<number> {
  const r = await verifyCache(defaultCacheDir(), { repair: flags.repair });
  for (const b of r.corruptBlobs) out(`corrupt blob ${b}`);
  for (const e of r.brokenEntries) out(`broken entry ${e}`);
  const bad = r.corruptBlobs.length + r.brokenEntries.length;
  out(
    `checked ${r.blobsChecked} blobs: ${bad === 0 ? "all intact" : `${bad} problems`}` +
      (bad && flags.repair ? " (removed)" : ""),
  );
  return bad === 0 || flags.repair ? EXIT.ok : EXIT.failed;
}

/** `kiln cache gc --max-size SIZE`. */
export async function gcCommand(flags: { maxSize: string }): Promise<number> {
  const max = parseSize(flags.maxSize);
  if (max === null) {
    throw new ConfigError(`Size "${flags.maxSize}" is not valid; write it like 10G, 500M or 2048`);
  }
  const r = await gcCache(defaultCacheDir(), max);
  out(
    `removed ${r.entriesRemoved} entries and ${r.blobsRemoved} blobs: ` +
      `${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)}`,
  );
  return EXIT.ok;
}

/** `kiln cache clean`. */
export async function cleanCacheCommand(): Promise<number> {
  await cleanCache(defaultCacheDir());
  out(`removed ${defaultCacheDir()}`);
  return EXIT.ok;
}
