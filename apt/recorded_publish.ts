/**
 * The quick way to publish a repository every index of which kiln wrote and nobody touched since
 * (each has a record whose stat signatures its files still have, see `index_record.ts`): what
 * an index lists is read from its record, not parsed back from `Packages`; the pool is checked
 * against the stat signatures the record keeps; and only the chunks the change touches are cut
 * and compressed again (`index_edit.ts`), the rest sliced out of the published files. Adding one
 * package to an index of 1,000 thus costs about what that package and writing the files cost.
 *
 * It gives the bytes a build from scratch gives (the tests compare them), and steps aside
 * (returns null, changing nothing but the cache in memory) whenever the general way in
 * `publish.ts` is needed: a pool file whose stat signature changed, a record that does not add
 * up, or an ambiguous replacement.
 *
 * @module
 */

import { join } from "../engine/path.ts";
import type { Failure } from "../engine/failure.ts";
import { TreeStat } from "../engine/stat.ts";
import type { PlacedDeb } from "./additions.ts";
import type { AptRepoConfig } from "./config.ts";
import type { ChunkStore } from "./chunk_store.ts";
import type { IndexCache } from "./index_cache.ts";
import { editIndex, type PublishedForms } from "./index_edit.ts";
import {
  eachFile,
  INDEX_FORMS,
  type IndexRecord,
  listsFile,
  packagesNamed,
  readIndexRecord,
  type RecordedChunk,
  recordPath,
} from "./index_record.ts";
import { type AptRemoval, packageNotFound } from "./membership.ts";
import type { IndexedPackage } from "./index_chunks.ts";
import { buildPackagesFiles, type PackagesFiles } from "./packages_index.ts";
import { indexDir } from "./published.ts";
import { signAndWrite } from "./publish_write.ts";
import type { StagedWrites } from "./staged_writes.ts";
import type { Removals } from "../engine/removals.ts";
import type { Sign, Target } from "./suite_release.ts";

/** One index with a trusted record. */
export interface RecordedIndex {
  readonly suite: string;
  readonly comp: string;
  readonly arch: string;
  readonly record: IndexRecord;
  /** Its published files, being read (on another thread) while the additions are placed. */
  readonly files: Promise<PublishedForms>;
}

/** Every configured index's record, or null when one has none that can be trusted. */
export function readRecords(config: AptRepoConfig): RecordedIndex[] | null {
  const out: { suite: string; comp: string; arch: string; record: IndexRecord }[] = [];
  for (const suite of config.suites) {
    for (const comp of suite.components) {
      for (const arch of suite.architectures) {
        const rel = `${indexDir(suite.name, comp, arch)}/Packages`;
        const record = readIndexRecord(config.stateDir, config.root, rel);
        if (!record) return null;
        out.push({ suite: suite.name, comp, arch, record });
      }
    }
  }
  return out.map((x) => {
    const dir = join(config.root, indexDir(x.suite, x.comp, x.arch));
    const files = Promise.all(INDEX_FORMS.map((name) => Deno.readFile(join(dir, name))))
      .then(([plain, gz, xz]) => ({ plain, gz, xz }));
    files.catch(() => {}); // awaited if this way is taken
    return { ...x, files };
  });
}

/** What a publish brings to this way of publishing. */
export interface RecordedPublish {
  readonly config: AptRepoConfig;
  readonly indexes: readonly RecordedIndex[];
  readonly placed: readonly PlacedDeb[];
  readonly remove: readonly AptRemoval[];
  readonly cache: IndexCache;
  readonly store: ChunkStore;
  /** Where the edited index files are written meanwhile (the caller discards what is left). */
  readonly staged: StagedWrites;
  /** Where replaced and deleted files are freed, on other threads (the caller settles them). */
  readonly removals: Removals;
  /** Called once something may need signing (see `prepareSigning`). */
  readonly signing: () => Promise<Sign | Failure>;
}

/** A suite component's change: pool paths taken out, and additions by package and architecture. */
interface CompChange {
  readonly remove: Set<string>;
  readonly adds: Map<string, PlacedDeb>;
}

const nameKey = (p: { pkg: string; arch: string }) => `${p.pkg}\0${p.arch}`;

/**
 * Publishes `p`'s change through the indexes' records; null when the general way is needed.
 * Returns what a publish returns otherwise (see `publishAptRepository`).
 */
export async function publishRecorded(p: RecordedPublish): Promise<
  | { releases: string[]; written: string[]; unchanged: number; packages: number }
  | Failure
  | null
> {
  const { config, indexes } = p;
  const ofComp = (suite: string, comp: string) =>
    indexes.filter((x) => x.suite === suite && x.comp === comp);
  /** The packages of `xs` named one of `names`. */
  const named = (xs: readonly RecordedIndex[], names: ReadonlySet<string>) =>
    xs.flatMap((x) => x.record.chunks.flatMap((c) => packagesNamed(c.list, names)));

  // What changes in each suite component, as the general way decides it (publish.ts).
  const changes = new Map<string, CompChange>();
  const changeOf = (suite: string, comp: string) => {
    const k = `${suite}\0${comp}`;
    let c = changes.get(k);
    if (!c) changes.set(k, c = { remove: new Set(), adds: new Map() });
    return c;
  };
  // Which pool file a component lists for each added package name and architecture (null:
  // several), looked up in the packed lists without unpacking the rest.
  const names = new Map<string, Map<string, string | null>>();
  for (const d of p.placed) names.set(`${d.addition.suite}\0${d.addition.component}`, new Map());
  for (const [k, byName] of names) {
    const [suite, comp] = k.split("\0");
    const wanted = new Set(
      p.placed.filter((d) => d.addition.suite === suite && d.addition.component === comp)
        .map((d) => d.facts.pkg),
    );
    for (const x of named(ofComp(suite, comp), wanted)) {
      const key = nameKey(x);
      const had = byName.get(key);
      byName.set(key, had === undefined || had === x.poolRel ? x.poolRel : null);
    }
  }
  for (const d of p.placed) {
    const { suite, component } = d.addition;
    const change = changeOf(suite, component);
    const k = nameKey(d.facts);
    const before = change.adds.get(k)?.poolRel ?? names.get(`${suite}\0${component}`)!.get(k);
    if (before === null) return null; // which one it replaces is the general way's call
    if (before !== undefined) change.remove.add(before);
    change.remove.add(d.poolRel); // added again: its stanza is rendered anew
    change.adds.set(k, d);
  }
  for (const r of p.remove) {
    let found = 0;
    for (const suite of config.suites.filter((s) => s.name === r.suite)) {
      for (const comp of suite.components) {
        if (r.component !== undefined && comp !== r.component) continue;
        const hit = (x: { pkg: string; arch: string }) =>
          x.pkg === r.package && (r.architecture === undefined || x.arch === r.architecture);
        const change = changeOf(suite.name, comp);
        for (const x of named(ofComp(suite.name, comp), new Set([r.package]))) {
          if (hit(x) && !change.remove.has(x.poolRel)) {
            change.remove.add(x.poolRel);
            found++;
          }
        }
        for (const [k, d] of change.adds) {
          if (hit(d.facts)) {
            change.adds.delete(k);
            found++;
          }
        }
      }
    }
    if (!found) return packageNotFound(r);
  }

  // Each index: unchanged, or edited from its published forms.
  const known = new Map<string, Uint8Array>();
  const targets: Target[] = [];
  const edited: number[] = [];
  const replaced: RecordedChunk[] = [];
  for (const x of indexes) {
    const dir = indexDir(x.suite, x.comp, x.arch);
    const published = await x.files;
    known.set(`${dir}/Packages`, published.plain);
    known.set(`${dir}/Packages.gz`, published.gz);
    known.set(`${dir}/Packages.xz`, published.xz);
    const change = changes.get(`${x.suite}\0${x.comp}`);
    const add: IndexedPackage[] = [];
    for (const d of change?.adds.values() ?? []) {
      if (d.facts.arch === x.arch || d.facts.arch === "all") {
        add.push({ ...d.facts, poolRel: d.poolRel, stanza: d.stanza });
      }
    }
    const edit = editIndex(x.record, published, { remove: change?.remove ?? new Set(), add });
    if (!edit) return null;
    replaced.push(...edit.replaced);
    if (edit.replaced.length || add.length) edited.push(targets.length);
    targets.push({ suite: x.suite, comp: x.comp, arch: x.arch, ...edit });
  }

  // Every listed pool file, added ones too, must still have the stat signature it had when
  // hashed (checked while xz compresses the new chunks); a file that changed is the general way's
  // to read again.
  let poolChanged = false;
  const checkPool = () => {
    using tree = new TreeStat(config.root);
    const seen = targets.length > 1 ? new Set<string>() : null; // a file several indexes list
    poolChanged = !targets.every((t) =>
      t.lists.every((list) =>
        list === null || eachFile(list, (relFrom, relTo, sigFrom, sigTo) => {
          if (seen) {
            const rel = list.slice(relFrom, relTo);
            if (seen.has(rel)) return true;
            seen.add(rel);
          }
          return tree.matches(list, relFrom, relTo, sigFrom, sigTo);
        })
      )
    );
  };
  if (edited.length) {
    p.signing(); // get the key while xz runs
    // The files the write replaces, prepared on other threads while this one hashes (see
    // `engine/removals.ts`): each suite's Release and signatures, and the edited indexes' records.
    for (const suite of new Set(edited.map((i) => targets[i].suite))) {
      for (const name of ["Release", "Release.gpg", "InRelease"]) {
        p.removals.prepare(join(config.root, "dists", suite, name));
      }
    }
    for (const i of edited) {
      const t = targets[i];
      p.removals.prepare(
        recordPath(config.stateDir, `${indexDir(t.suite, t.comp, t.arch)}/Packages`),
      );
    }
  }
  const compressed = await buildPackagesFiles(edited.map((i) => targets[i].chunks), p.store, {
    parallelism: config.parallelism ?? navigator.hardwareConcurrency ?? 2,
    xzTool: config.xzTool,
    tmpDir: join(config.stateDir, "tmp"),
    meanwhile: checkPool, // called even when nothing is compressed
    stage: (k, name, bytes) => {
      const t = targets[edited[k]];
      const dir = indexDir(t.suite, t.comp, t.arch);
      // A file as long as the published one is likely the same: signAndWrite compares first.
      if (known.get(`${dir}/${name}`)?.length !== bytes.length) p.staged.stage(dir, name, bytes);
    },
  });
  if (poolChanged) return null;
  if ("reason" in compressed) return compressed;
  const built: PackagesFiles[] = indexes.map((x, i) => {
    const at = edited.indexOf(i);
    if (at >= 0) return compressed[at];
    const dir = indexDir(x.suite, x.comp, x.arch);
    for (const c of x.record.chunks) p.store.keep(c);
    return {
      plain: known.get(`${dir}/Packages`)!,
      gz: known.get(`${dir}/Packages.gz`)!,
      xz: known.get(`${dir}/Packages.xz`)!,
      hashes: x.record.hashes,
      chunks: x.record.chunks,
    };
  });

  const out = await signAndWrite({
    config,
    targets,
    built,
    known,
    records: indexes.map((x) => x.record),
    signing: p.signing,
    cache: p.cache,
    staged: p.staged,
    removals: p.removals,
  });
  if ("reason" in out) return out;
  // The cache forgets files no index lists any more (without reading it first).
  const dropped = new Set<string>();
  for (const change of changes.values()) {
    for (const rel of change.remove) {
      if (!targets.some((t) => t.lists.some((l) => l !== null && listsFile(l, rel)))) {
        dropped.add(rel);
      }
    }
  }
  const files = countFiles(targets);
  p.cache.saveChanges([...dropped], files);
  await p.store.drop(replaced);
  return { ...out, packages: files };
}

/** How many distinct pool files `targets` list. */
function countFiles(targets: readonly Target[]): number {
  if (targets.length === 1) {
    let n = 0;
    for (const list of targets[0].lists) {
      if (!list) continue;
      n++;
      for (let i = list.indexOf("\n"); i >= 0; i = list.indexOf("\n", i + 1)) n++;
    }
    return n;
  }
  const files = new Set<string>();
  for (const t of targets) {
    for (const l of t.lists) eachFile(l ?? "", (from, to) => !!files.add(l!.slice(from, to)));
  }
  return files.size;
}
