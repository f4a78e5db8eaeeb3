/**
 * The end of every publish, however its indexes were built: each suite's `Release` rendered and,
 * when it changed, signed; then `by-hash/` copies and index files, `Release`, `Release.gpg` and
 * `InRelease` written in that order (see `by_hash.ts`), superseded `by-hash/` copies pruned, the
 * codename link made, and each index's record (`index_record.ts`) and stat signature kept for
 * the next publish.
 *
 * @module
 */

import { join } from "../engine/path.ts";
import type { Failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";
import { holds, pruneByHash, publishIndexFile, replaceFile } from "./by_hash.ts";
import type { AptRepoConfig } from "./config.ts";
import type { IndexCache } from "./index_cache.ts";
import {
  type IndexRecord,
  indexSigs,
  type RecordedChunk,
  writeIndexRecord,
} from "./index_record.ts";
import type { PackagesFiles } from "./packages_index.ts";
import { indexDir } from "./published.ts";
import type { ReleaseEntry } from "./release_file.ts";
import type { StagedWrites } from "./staged_writes.ts";
import type { Removals } from "../engine/removals.ts";
import { type Sign, suiteFiles, type Target } from "./suite_release.ts";

/** What to write: every index built, in memory, and how to sign. */
export interface WriteJob {
  readonly config: AptRepoConfig;
  readonly targets: readonly Target[];
  readonly built: readonly PackagesFiles[];
  /** Index files' bytes as read before this publish, by path relative to the root. */
  readonly known: ReadonlyMap<string, Uint8Array>;
  /** Each target's record as read before this publish (null: none, or none trusted). */
  readonly records: readonly (IndexRecord | null)[];
  /** The signer, asked for only when a `Release` changed. */
  readonly signing: () => Promise<Sign | Failure>;
  readonly cache: IndexCache;
  /** Index files already being written (see `staged_writes.ts`); the caller discards the rest. */
  readonly staged?: StagedWrites;
  /** Where replaced and deleted files are freed (on other threads); the caller settles them. */
  readonly removals?: Removals;
}

/** What the writing did. */
export interface Written {
  /** `InRelease` of each suite, relative to the repository root. */
  readonly releases: string[];
  readonly written: string[];
  readonly unchanged: number;
}

/** Signs what changed and writes every suite (see the module doc for the order). */
export async function signAndWrite(job: WriteJob): Promise<Written | Failure> {
  const { config, targets, built, cache } = job;
  const root = config.root;
  const suites = config.suites.map((suite) => suiteFiles(config, suite, targets, built));
  if (suites.some((s) => !s.fresh)) {
    const sign = await job.signing();
    if ("reason" in sign) return sign;
    const signed = await Promise.all(suites.map(async (s) => {
      if (s.fresh) return null;
      const r = await sign(s.release);
      if ("reason" in r) return r;
      s.signatures = r;
      return null;
    }));
    const refused = signed.find((r) => r !== null);
    if (refused) return refused;
  }

  const written: string[] = [];
  let unchanged = 0;
  const byHashKeep = config.byHashKeep ?? 3;
  for (const s of suites) {
    const byDir = new Map<string, ReleaseEntry[]>();
    let plainChanged = false; // a changed Packages has changed compressed forms: skip reading them
    for (const f of s.files) {
      const dir = join(root, f.dir);
      Deno.mkdirSync(dir, { recursive: true });
      const rel = `${f.dir}/${f.name}`;
      const compressed = f.name === "Packages.gz" || f.name === "Packages.xz";
      const same: boolean = !(compressed && plainChanged) &&
        holds(join(dir, f.name), f.bytes, job.known.get(rel));
      if (f.name === "Packages") plainChanged = !same;
      if (f.name === "Release") {
        if (!same) replaceFile(join(dir, f.name), f.bytes, job.removals);
      } else {
        const tmp = (await job.staged?.take(f.dir, f.name)) ?? null;
        publishIndexFile(dir, f.name, f.bytes, f.entry, same, tmp, job.removals);
        byDir.set(dir, [...byDir.get(dir) ?? [], f.entry]);
      }
      if (same) unchanged++;
      else written.push(rel);
      if (f.name === "Packages") {
        const st = statFile(join(dir, f.name));
        if (st) cache.setIndex(rel, st.sig);
      }
    }
    if (s.signatures) {
      replaceFile(join(root, s.dists, "Release"), s.release, job.removals);
      replaceFile(join(root, s.dists, "Release.gpg"), s.signatures.detached, job.removals);
      replaceFile(join(root, s.dists, "InRelease"), s.signatures.inRelease, job.removals);
      written.push(`${s.dists}/Release`, `${s.dists}/Release.gpg`, `${s.dists}/InRelease`);
    } else unchanged += 3;
    for (const [dir, current] of byDir) {
      pruneByHash(dir, current, byHashKeep * current.length, job.removals);
    }
    linkCodename(config, root, s.suite.name, s.suite.codename);
  }
  targets.forEach((t, i) => keepRecord(job, t, i));
  return { releases: suites.map((s) => `${s.dists}/InRelease`), written, unchanged };
}

/** Records target `i`'s index as now published, unless its record says so already. */
function keepRecord(job: WriteJob, t: Target, i: number): void {
  const dir = indexDir(t.suite, t.comp, t.arch);
  const sigs = indexSigs(join(job.config.root, dir));
  if (!sigs) return;
  const old = job.records[i];
  if (old && old.sigs.every((s, k) => s === sigs[k])) return;
  const b = job.built[i];
  const chunks: RecordedChunk[] = [];
  for (const [j, c] of b.chunks.entries()) {
    const list = t.lists[j];
    if (list === null) return; // not recordable: the next publish reads the index back
    chunks.push({ ...c, list });
  }
  const record = { sigs, hashes: b.hashes, chunks };
  writeIndexRecord(job.config.stateDir, `${dir}/Packages`, record, job.removals);
}

/** `dists/<codename>` → `<suite>`, when they differ and nothing else has that name. */
function linkCodename(
  config: AptRepoConfig,
  root: string,
  suite: string,
  codename: string | undefined,
): void {
  if (config.codenameLinks === false || !codename || codename === suite) return;
  const link = join(root, "dists", codename);
  const st = statFile(link);
  if (st && st.kind !== "symlink") return;
  try {
    if (st && Deno.readLinkSync(link) === suite) return;
  } catch { /* replace it */ }
  const tmp = `${link}.tmp-${Deno.pid}`;
  Deno.symlinkSync(suite, tmp);
  Deno.renameSync(tmp, link);
}
