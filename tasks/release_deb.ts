/**
 * kiln's Debian package, written by kiln's own .deb writer (no dpkg needed) from
 * `packaging/kiln.deb.yaml` plus kiln's sources under `/usr/lib/kiln/`.
 *
 * @module
 */

import { failure } from "../engine/failure.ts";
import { fn, type Task } from "../engine/task.ts";
import { RELEASE_DIR, RELEASE_SOURCES } from "./release_archives.ts";
import { releaseEpoch } from "./release_date.ts";

/** The package spec. */
export const DEB_SPEC = "packaging/kiln.deb.yaml";
/** The id of the task that builds the .deb. */
export const DEB_TASK = "release:deb";

/**
 * The Debian revision the spec gives (`version: "{version}-2"` -> `2`), read without parsing the
 * YAML so the pipeline loads fast; the build checks the spec's file name against it.
 */
export function debRevision(root: string): string {
  try {
    const text = Deno.readTextFileSync(`${root}/${DEB_SPEC}`);
    return /^version:\s*["']?\{version\}-([0-9A-Za-z.+~]+)["']?\s*$/m.exec(text)?.[1] ?? "1";
  } catch {
    return "1";
  }
}

/** The .deb's path for `version` and Debian `revision` (architecture all). */
export function debPath(version: string, revision = "1"): string {
  return `${RELEASE_DIR}/kiln_${version}-${revision}_all.deb`;
}

/** The task that builds kiln's .deb, at Debian `revision`. */
export function debTask(version: string, revision: string): Task {
  const out = debPath(version, revision);
  return {
    id: DEB_TASK,
    description: "kiln's .deb (written in TypeScript: ar, control.tar, data.tar.xz)",
    inputs: [...RELEASE_SOURCES, DEB_SPEC, "packaging/launcher/kiln"],
    params: { version },
    env: ["SOURCE_DATE_EPOCH"],
    outputs: [out],
    action: fn(import.meta.url, async (ctx) => {
      const epoch = releaseEpoch(ctx.env);
      if (typeof epoch !== "number") return epoch;
      const { buildDeb, debFileName, parseDebSpec } = await import("../deb/mod.ts");
      const text = (await Deno.readTextFile(ctx.path(DEB_SPEC))).replaceAll("{version}", version);
      const spec = parseDebSpec(text, DEB_SPEC, { root: ctx.path("packaging") });
      if ("reason" in spec) return spec;
      if (`${RELEASE_DIR}/${debFileName(spec)}` !== out) {
        return failure(
          "deb-name-mismatch",
          `${DEB_SPEC} makes ${JSON.stringify(debFileName(spec))}, but the release expects ` +
            `${JSON.stringify(out.split("/").pop())}; write version as "{version}-<revision>" ` +
            `and architecture "all"`,
        );
      }
      const sources = RELEASE_SOURCES.map((s) => ({ src: `../${s}`, dest: `/usr/lib/kiln/${s}` }));
      const built = await buildDeb(
        { ...spec, files: [...spec.files, ...sources] } as typeof spec,
        { output: ctx.path(out), sourceDateEpoch: epoch },
      );
      if ("reason" in built) return built;
      ctx.log(`${out}: ${built.size} bytes, sha256 ${built.sha256}`);
    }),
  };
}
