/**
 * Writing a set of release files so that each appears whole or not at all: every file is written
 * beside its final name, flushed, then renamed over it. Nothing is renamed until every file was
 * written, so an error leaves the folder as it was.
 *
 * @module
 */

/**
 * Writes `files` (name relative to `dir` -> text or bytes) atomically, replacing existing files.
 *
 * @example
 * ```ts
 * await writeFilesAtomic("dist", { "SHA256SUMS": sums, "SHA256SUMS.asc": sig });
 * ```
 */
export async function writeFilesAtomic(
  dir: string,
  files: Readonly<Record<string, string | Uint8Array>>,
): Promise<void> {
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const [name, text] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      const slash = path.lastIndexOf("/");
      const tmp = `${path.slice(0, slash)}/.${path.slice(slash + 1)}.tmp-${tag}`;
      staged.push({ tmp, path });
      using f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
      const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
      await f.syncData();
    }
    for (const s of staged) await Deno.rename(s.tmp, s.path);
  } finally {
    for (const s of staged) await Deno.remove(s.tmp).catch(() => {});
  }
}
