/**
 * kiln's release archives: its sources plus a launcher, one archive per OS and CPU that the
 * Homebrew formula and the Scoop manifest point at (`.tar.gz` for macOS and Linux, `.zip` for
 * Windows). kiln runs on Deno, so the archives differ only in their launcher and their
 * `PLATFORM` file; they exist per platform so that installers pick theirs the same way they
 * will once kiln ships compiled binaries.
 *
 * @module
 */

import { fn, type Task } from "../engine/task.ts";

/** The repository files kiln runs from: what every package of it installs. */
export const RELEASE_SOURCES = [
  "LICENSE",
  "README.md",
  "build.ts",
  "deno.json",
  "deno.lock",
  "apt",
  "builders",
  "cli",
  "deb",
  "engine",
  "homebrew",
  "image",
  "iso",
  "packer",
  "release",
  "scoop",
  "signing",
  "tasks",
] as const;

/** A platform an archive is built for, in the words of the formula spec's defaults. */
export interface ArchivePlatform {
  readonly os: "macos" | "linux" | "windows";
  readonly arch: "arm64" | "x86_64";
}

/** Every platform kiln publishes an archive for. */
export const ARCHIVE_PLATFORMS: readonly ArchivePlatform[] = [
  { os: "linux", arch: "x86_64" },
  { os: "linux", arch: "arm64" },
  { os: "macos", arch: "x86_64" },
  { os: "macos", arch: "arm64" },
  { os: "windows", arch: "x86_64" },
  { os: "windows", arch: "arm64" },
];

const OS_NAME = { macos: "darwin", linux: "linux", windows: "windows" } as const;
const ARCH_NAME = { arm64: "arm64", x86_64: "amd64" } as const;

/** The folder release files are written to. */
export const RELEASE_DIR = "dist/release";

/** `kiln-1.2.3-linux-amd64.tar.gz`: the naming `packaging/kiln.formula.yaml`'s url expects. */
export function archiveName(version: string, p: ArchivePlatform): string {
  const ext = p.os === "windows" ? "zip" : "tar.gz";
  return `kiln-${version}-${OS_NAME[p.os]}-${ARCH_NAME[p.arch]}.${ext}`;
}

/** The platform label the release manifest gives an archive (`linux-amd64`). */
export function platformLabel(p: ArchivePlatform): string {
  return `${OS_NAME[p.os]}-${ARCH_NAME[p.arch]}`;
}

/** The id of the task that builds the archive for `p`. */
export function archiveTaskId(p: ArchivePlatform): string {
  return `release:archive:${platformLabel(p)}`;
}

/** The archive task for platform `p`. */
export function archiveTask(version: string, p: ArchivePlatform): Task {
  const out = `${RELEASE_DIR}/${archiveName(version, p)}`;
  const launcher = p.os === "windows" ? "packaging/launcher/kiln.cmd" : "packaging/launcher/kiln";
  return {
    id: archiveTaskId(p),
    description: `kiln's release archive for ${platformLabel(p)}`,
    inputs: [...RELEASE_SOURCES, launcher],
    params: { version, os: p.os, arch: p.arch },
    env: ["SOURCE_DATE_EPOCH"],
    outputs: [out],
    action: fn(import.meta.url, async (ctx) => {
      const { collectFiles, writeArchive } = await import("../release/archive.ts");
      const { releaseEpoch } = await import("./release_date.ts");
      const epoch = releaseEpoch(ctx.env);
      if (typeof epoch !== "number") return epoch;
      const files = await collectFiles(ctx.root, RELEASE_SOURCES);
      if ("reason" in files) return files;
      const extra = [
        {
          path: `bin/${launcher.split("/").pop()}`,
          mode: 0o755,
          data: await Deno.readFile(ctx.path(launcher)),
        },
        { path: "PLATFORM", mode: 0o644, data: new TextEncoder().encode(`${platformLabel(p)}\n`) },
      ];
      const r = await writeArchive([...files, ...extra], {
        top: `kiln-${version}`,
        format: p.os === "windows" ? "zip" : "tar.gz",
        mtime: epoch,
        dest: ctx.path(out),
      });
      if ("reason" in r) return r;
      ctx.log(`${out}: ${files.length + extra.length} files, ${r.size} bytes`);
    }),
  };
}
