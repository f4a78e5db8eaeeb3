/**
 * kiln's Homebrew formula, its tap and its Scoop manifest, from `packaging/kiln.formula.yaml`
 * and the release archives.
 *
 * The tap is a git repository kept in the tap task's state folder (`ctx.stateDir()`), so its
 * history survives reruns: a new version is a new commit, an unchanged formula none. With
 * `KILN_TAP_REMOTE` set, kiln fetches from it first and pushes after. The clone is then copied to
 * `dist/homebrew-tap/` as the task's output.
 *
 * @module
 */

import type { Failure } from "../engine/failure.ts";
import { failure } from "../engine/failure.ts";
import { copyTree } from "../engine/fs_util.ts";
import { fn, type Task, type TaskContext } from "../engine/task.ts";
import type { FormulaSpec, ReleaseArchive } from "../homebrew/mod.ts";
import {
  ARCHIVE_PLATFORMS,
  archiveName,
  type ArchivePlatform,
  archiveTaskId,
  RELEASE_DIR,
} from "./release_archives.ts";

/** kiln's formula spec, which the Scoop manifest reads too. */
export const FORMULA_SPEC = "packaging/kiln.formula.yaml";
/** The rendered formula. */
export const FORMULA = "dist/homebrew/kiln.rb";
/** The published copy of the tap repository. */
export const TAP_DIR = "dist/homebrew-tap";
/** The Scoop manifest. */
export const SCOOP_MANIFEST = "dist/scoop/kiln.json";

const isWindows = (p: ArchivePlatform) => p.os === "windows";

/** The spec, with the archives of `platforms` as the spec's url names them (checked). */
async function specAndArchives(
  ctx: TaskContext,
  version: string,
  platforms: readonly ArchivePlatform[],
): Promise<{ spec: FormulaSpec; archives: ReleaseArchive[] } | Failure> {
  const { archiveFileName, loadFormulaSpec } = await import("../homebrew/mod.ts");
  const spec = await loadFormulaSpec(ctx.path(FORMULA_SPEC));
  if ("reason" in spec) return spec;
  const archives: ReleaseArchive[] = [];
  for (const p of platforms) {
    const built = archiveName(version, p);
    const named = archiveFileName(spec, version, p.os, p.arch);
    if (named !== built) {
      return failure(
        "formula-url-mismatch",
        `${FORMULA_SPEC}'s url names the ${p.os}/${p.arch} archive ${JSON.stringify(named)} but ` +
          `the release builds ${JSON.stringify(built)}; make the url end in ` +
          `kiln-{version}-{os}-{arch}.{ext}`,
      );
    }
    archives.push({ os: p.os, arch: p.arch, path: ctx.path(`${RELEASE_DIR}/${built}`) });
  }
  return { spec, archives };
}

/** The tasks that write the formula, publish it to the tap, and write the Scoop manifest. */
export function brewTasks(version: string): Task[] {
  const unix = ARCHIVE_PLATFORMS.filter((p) => !isWindows(p));
  const windows = ARCHIVE_PLATFORMS.filter(isWindows);
  return [
    {
      id: "release:formula",
      description: "kiln's Homebrew formula (url and sha256 per OS and CPU), checked by ruby -c",
      deps: unix.map(archiveTaskId),
      inputs: [FORMULA_SPEC],
      params: { version },
      tools: [{ name: "ruby" }],
      outputs: [FORMULA],
      action: fn(import.meta.url, async (ctx) => {
        const got = await specAndArchives(ctx, version, unix);
        if ("reason" in got) return got;
        const { buildFormula, checkRubySyntax } = await import("../homebrew/mod.ts");
        const text = await buildFormula(got.spec, version, got.archives);
        if (typeof text !== "string") return text;
        const bad = await checkRubySyntax(text, FORMULA);
        if (bad) return bad;
        await Deno.mkdir(ctx.path("dist/homebrew"), { recursive: true });
        await Deno.writeTextFile(ctx.path(FORMULA), text);
      }),
    },
    {
      id: "release:tap",
      description: "Commits the formula to the Homebrew tap (and pushes to KILN_TAP_REMOTE)",
      deps: ["release:formula"],
      inputs: [FORMULA_SPEC],
      params: { version },
      env: ["KILN_TAP_REMOTE"],
      tools: [{ name: "git" }],
      outputs: [TAP_DIR],
      action: fn(import.meta.url, async (ctx) => {
        const { loadFormulaSpec, publishFile, formulaPath } = await import("../homebrew/mod.ts");
        const spec = await loadFormulaSpec(ctx.path(FORMULA_SPEC));
        if ("reason" in spec) return spec;
        const remote = ctx.env.KILN_TAP_REMOTE || spec.tap?.remote;
        const repo = {
          branch: "main",
          ...spec.tap,
          path: `${ctx.stateDir()}/tap`,
          ...(remote ? { remote } : {}),
        };
        const text = await Deno.readTextFile(ctx.path(FORMULA));
        const r = await publishFile(
          repo,
          formulaPath(spec.name),
          text,
          (isNew) => `${spec.name} ${version}${isNew ? " (new formula)" : ""}`,
          // git gets the whole environment (SSH agent, credential helpers): it moves bytes the
          // key already describes, and a push must authenticate as the user.
          { env: Deno.env.toObject() },
        );
        if ("reason" in r) return r;
        ctx.log(
          r.committed ? `committed "${r.message}" (${r.head})` : "formula unchanged: no commit",
        );
        if (r.pushed) ctx.log(`pushed to ${remote}`);
        copyTree(repo.path, ctx.path(TAP_DIR));
      }),
    },
    {
      id: "release:scoop",
      description: "kiln's Scoop manifest (64bit and arm64 url + hash, checkver, autoupdate)",
      deps: windows.map(archiveTaskId),
      inputs: [FORMULA_SPEC],
      params: { version },
      outputs: [SCOOP_MANIFEST],
      action: fn(import.meta.url, async (ctx) => {
        const got = await specAndArchives(ctx, version, windows);
        if ("reason" in got) return got;
        const { renderScoopManifest, scoopManifest } = await import("../scoop/mod.ts");
        const m = await scoopManifest(got.spec, version, got.archives, { ifNoWindows: "fail" });
        if (m === null) return failure("scoop-no-windows-archive", "No Windows archive was built");
        if ("reason" in m) return m;
        await Deno.mkdir(ctx.path("dist/scoop"), { recursive: true });
        await Deno.writeTextFile(ctx.path(SCOOP_MANIFEST), renderScoopManifest(m));
      }),
    },
  ];
}
