/**
 * When cache entries were last used, for least-recently-used garbage collection.
 *
 * Touching each entry's mtime on every restore dirties one inode per task, and on ext4 that made
 * the file creations of the same restore ten times slower (0.4 ms instead of 0.04 ms each). So a
 * build appends the keys it used to `access.log` in the cache folder, in one write, and `gc`
 * reads it: an entry's last use is the later of its creation and its last logged use.
 *
 * @module
 */

import { join } from "./path.ts";

/** File name of the access log inside the cache folder. */
const ACCESS_LOG = "access.log";

/** Appends `keys` as used at `nowMs`, in a single append (safe with concurrent writers). */
export function recordAccess(dir: string, keys: Iterable<string>, nowMs = Date.now()): void {
  let text = "";
  for (const k of keys) text += `${nowMs} ${k}\n`;
  if (!text) return;
  try {
    Deno.writeTextFileSync(join(dir, ACCESS_LOG), text, { append: true, create: true });
  } catch { /* a read-only cache: recency is best effort */ }
}

/** Key -> last logged use (epoch ms). */
export function readAccess(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  let text = "";
  try {
    text = Deno.readTextFileSync(join(dir, ACCESS_LOG));
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const sp = line.indexOf(" ");
    if (sp < 0) continue;
    const t = Number(line.slice(0, sp));
    const key = line.slice(sp + 1);
    if (Number.isFinite(t) && t > (out.get(key) ?? -Infinity)) out.set(key, t);
  }
  return out;
}

/** Rewrites the log with only `keep` (after gc), atomically. */
export function compactAccess(dir: string, keep: ReadonlyMap<string, number>): void {
  const path = join(dir, ACCESS_LOG);
  const tmp = `${path}.tmp-${Deno.pid}`;
  let text = "";
  for (const [k, t] of keep) text += `${t} ${k}\n`;
  try {
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // no cache folder: nothing to compact
  }
}
