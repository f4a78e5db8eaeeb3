/**
 * kiln's own source release, the repository's example pipeline until the OS pipelines land:
 * a reproducible tarball of the sources (a shell command) and its `SHA256SUMS` (a TypeScript
 * action). Reproducible bytes mean an edit that does not change the archive's content (say, a
 * touched file) stops at the archive: the checksum task stays fresh (early cutoff).
 *
 * @module
 */

import { hashFile } from "../engine/hash.ts";
import { cmd, fn, type Task } from "../engine/task.ts";

const SOURCES = ["build.ts", "deno.json", "README.md", "engine", "builders", "cli", "tasks"];

/** The tasks of the source release, writing to `dist/`. */
export function sourceReleaseTasks(version: string): Task[] {
  const archive = `dist/kiln-${version}-src.tar.gz`;
  return [
    {
      id: "source:archive",
      description: "Reproducible tarball of kiln's sources",
      inputs: SOURCES,
      params: { version },
      tools: [{ name: "tar" }, { name: "gzip" }],
      outputs: [archive],
      action: cmd(
        `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner ` +
          `--transform 's,^,kiln-${version}/,' -cf - ${
            SOURCES.join(" ")
          } | gzip -n -9 > ${archive}`,
      ),
    },
    {
      id: "source:checksums",
      description: "SHA256SUMS of the source release",
      deps: ["source:archive"],
      outputs: ["dist/SHA256SUMS"],
      action: fn(import.meta.url, async (ctx) => {
        const name = archive.split("/").pop()!;
        const { digest } = await hashFile(ctx.path(archive));
        await Deno.writeTextFile(ctx.path("dist/SHA256SUMS"), `${digest}  ${name}\n`);
        ctx.log(`${digest}  ${name}`);
      }),
    },
  ];
}
