/**
 * Publishing an APT repository: what each suite lists (read back from its published indexes),
 * plus the packages added and minus those removed, becomes `Packages{,.gz,.xz}` per component and
 * architecture, per-architecture and top-level `Release` files, `InRelease` (clearsigned) and
 * `Release.gpg` (detached), all signed with SHA-512.
 *
 * Incremental: pool files whose stat signature is unchanged are not read again (their facts
 * come from the state folder's cache, their stanzas from the `Packages` file kiln wrote last);
 * compressed chunks of unchanged parts of an index are reused; an index file whose bytes would
 * not change is not rewritten, and a suite whose `Release` would not change is not re-signed (nor
 * is the key asked for: see {@link AptSigner}).
 *
 * Safe: everything is computed in memory first, and before anything is signed every pool file an
 * index lists is checked against its entry (`apt-pool-mismatch` otherwise, nothing written); then
 * `by-hash/` copies, index files, `Release`, `Release.gpg` and `InRelease` are written in that
 * order, each by rename, each replaced file dated at least a second after the one it replaces.
 * One publisher at a time per state folder (a lock).
 *
 * @module
 */

import { Removals } from "../engine/removals.ts";
import { join } from "../engine/path.ts";
import type { Failure } from "../engine/failure.ts";
import { TreeStat } from "../engine/stat.ts";
import type { SigningKey } from "../signing/key.ts";
import { type AptAddition, placeAdditions } from "./additions.ts";
import { type AptRepoConfig, checkAptConfig } from "./config.ts";
import { ChunkStore } from "./chunk_store.ts";
import { type CachedDeb, IndexCache } from "./index_cache.ts";
import { pruneIndexRecords } from "./index_record.ts";
import { buildPackagesFiles } from "./packages_index.ts";
import { poolMismatch } from "./pool_check.ts";
import { cachedDeb, readDebFactsMany, renderStanza } from "./pool_file.ts";
import { indexDir, readPublished } from "./published.ts";
import { signAndWrite } from "./publish_write.ts";
import { publishRecorded, readRecords } from "./recorded_publish.ts";
import { StagedWrites } from "./staged_writes.ts";
import type { AptReleaseSigner } from "./worker_signer.ts";
import { prepareSigning, type Target } from "./suite_release.ts";
import {
  applyRemovals,
  APT_PACKAGE_NOT_FOUND,
  type AptRemoval,
  indexTargets,
  type Member,
} from "./membership.ts";

export { APT_PACKAGE_NOT_FOUND, type AptRemoval };

/** What to change in this publish; nothing publishes the repository as it is (re-signing it). */
export interface AptPublishRequest {
  /** Packages to add; each replaces the suite component's package of the same name and arch. */
  readonly add?: readonly AptAddition[];
  readonly remove?: readonly AptRemoval[];
}

/** What a publish did. */
export interface AptPublishResult {
  /** `InRelease` of each suite, relative to the repository root. */
  readonly releases: readonly string[];
  /** Pool files read and hashed. */
  readonly hashed: number;
  /** Files (re)written, relative to the root (not counting `by-hash/` copies and the pool). */
  readonly written: readonly string[];
  /** Files that already held the right bytes and were left alone. */
  readonly unchanged: number;
  /** Distinct pool files listed. */
  readonly packages: number;
  /**
   * Published `Packages` files read back and parsed: 0 when every index was as kiln left it
   * (its record was trusted, see `index_record.ts`), so only the chunks that change were cut.
   */
  readonly readBack: number;
}

/**
 * The signing key, a function that gets it, or a signer of its own (such as `AptWorkerSigner` in
 * `worker_signer.ts`, which reads the key on another thread). A function is called only once
 * something may need signing (a publish that changes nothing needs no key), while the indexes are
 * being compressed, so unlocking the key (a passphrase's S2K, or openpgp.js for a key kiln's own
 * reader leaves to it) costs no time of its own.
 */
export type AptSigner = SigningKey | (() => Promise<SigningKey | Failure>) | AptReleaseSigner;

/**
 * Publishes the repository `config` describes, after applying `request`, signed with `key`.
 *
 * @example
 * ```ts
 * const r = await publishAptRepository(config, key, {
 *   add: [{ deb: "dist/hello_1.0-1_amd64.deb", suite: "stable", component: "main" }],
 * });
 * if ("reason" in r) throw new Error(r.message);
 * ```
 */
export async function publishAptRepository(
  config: AptRepoConfig,
  signer: AptSigner,
  request: AptPublishRequest = {},
): Promise<AptPublishResult | Failure> {
  const invalid = checkAptConfig(config);
  if (invalid) return invalid;
  Deno.mkdirSync(config.stateDir, { recursive: true });
  using lock = Deno.openSync(join(config.stateDir, "publish.lock"), { create: true, write: true });
  lock.lockSync(true); // one publisher at a time; released when the file closes
  // Index files are written while the rest runs; what is not published is removed.
  const staged = new StagedWrites(config.root);
  // Replaced and deleted files are freed on other threads (see `engine/removals.ts`).
  const removals = new Removals(join(config.stateDir, "trash"));
  removals.sweep();
  const store = new ChunkStore(config.stateDir, removals);
  try {
    return await publishLocked(config, signer, request, staged, store, removals);
  } finally {
    await staged.discard();
    await store.settle(); // a publish that stopped early leaves no write running
    await removals.settle();
  }
}

/** {@link publishAptRepository} once it holds the lock. */
async function publishLocked(
  config: AptRepoConfig,
  signer: AptSigner,
  request: AptPublishRequest,
  staged: StagedWrites,
  store: ChunkStore,
  removals: Removals,
): Promise<AptPublishResult | Failure> {
  const root = config.root;
  const cache = IndexCache.load(config.stateDir);
  // A publish that changes something will sign: get the key (loading OpenPGP) now, while the
  // packages are read and their control members decoded in other processes, not after.
  const changes = (request.add?.length ?? 0) + (request.remove?.length ?? 0) > 0;
  let signing = changes ? prepareSigning(signer) : undefined;
  const askKey = () => signing ??= prepareSigning(signer);

  // Every index as kiln left it: publish through their records (see recorded_publish.ts).
  let added: Awaited<ReturnType<typeof placeAdditions>> | undefined;
  const indexes = readRecords(config);
  if (indexes) {
    added = await placeAdditions(config, request.add ?? [], cache);
    const done = "reason" in added ? null : await publishRecorded({
      config,
      indexes,
      placed: added.placed,
      remove: request.remove ?? [],
      cache,
      store,
      staged,
      signing: askKey,
      removals,
    });
    await Promise.allSettled(indexes.map((x) => x.files)); // no read left running
    if ("reason" in added) return added;
    if (done) return "reason" in done ? done : { ...done, hashed: added.hashed, readBack: 0 };
  }

  // What each suite and component lists now, then with the additions and removals applied.
  const members = new Map<string, Map<string, Map<string, Member>>>();
  const oldTexts = new Map<string, Uint8Array>();
  const trusted = new Map<string, string>(); // pool path → a reusable published stanza
  for (const suite of config.suites) {
    const published = readPublished(root, suite, cache);
    if ("reason" in published) return published;
    for (const [k, v] of published.texts) oldTexts.set(k, v);
    const comps = new Map<string, Map<string, Member>>();
    for (const [comp, files] of published.components) {
      for (const [rel, p] of files) if (p.stanza !== null) trusted.set(rel, p.stanza);
      comps.set(comp, new Map([...files].map(([rel, p]) => [rel, { published: p }])));
    }
    members.set(suite.name, comps);
  }
  added ??= await placeAdditions(config, request.add ?? [], cache);
  if ("reason" in added) return added;
  let hashed = added.hashed;
  const facts = new Map<string, CachedDeb>();
  const stanzas = new Map<string, string>();
  // Which pool file each component lists for a package name and architecture, so that an
  // addition replaces its predecessor without scanning the component (1,000 additions to a
  // component of 1,000 would otherwise be a million comparisons).
  const byName = new Map<Map<string, Member>, Map<string, string>>();
  const nameKey = (id: { pkg: string; arch: string }) => `${id.pkg}\0${id.arch}`;
  for (const d of added.placed) {
    const comp = members.get(d.addition.suite)!.get(d.addition.component)!;
    let names = byName.get(comp);
    if (!names) {
      names = new Map();
      for (const [rel, m] of comp) names.set(nameKey(m.facts ?? m.published!), rel);
      byName.set(comp, names);
    }
    const k = nameKey(d.facts);
    const before = names.get(k);
    if (before !== undefined && before !== d.poolRel) comp.delete(before);
    names.set(k, d.poolRel);
    comp.set(d.poolRel, { facts: d.facts });
    facts.set(d.poolRel, d.facts);
    stanzas.set(d.poolRel, d.stanza);
  }
  const removed = applyRemovals(members, request.remove ?? []);
  if (removed) return removed;

  // The check before signing: every listed pool file must be what its entry says. Files read
  // in this publish were hashed from their bytes; the others must still have the stat signature
  // they had when hashed, or are read again (all at once); then each is compared with what was
  // published, and any difference refuses the publish (`apt-pool-mismatch`).
  const misses = new Map<string, string>(); // pool path → the index listing it
  const statCheck = (): Failure | null => {
    using tree = new TreeStat(root);
    for (const comps of members.values()) {
      for (const files of comps.values()) {
        for (const [rel, m] of files) {
          if (facts.has(rel) || misses.has(rel)) continue;
          const st = tree.stat(rel);
          const index = m.published?.index ?? "the index";
          if (!st || st.kind !== "file") return poolMismatch(rel, index, "is missing");
          const f = cache.get(rel, st.sig);
          const stanza = trusted.get(rel);
          if (f && stanza) {
            facts.set(rel, f);
            stanzas.set(rel, stanza);
          } else misses.set(rel, index);
        }
      }
    }
    return null;
  };
  const compress = (targets: readonly Target[], meanwhile?: () => void) =>
    buildPackagesFiles(targets.map((t) => t.chunks), store, {
      parallelism: config.parallelism ?? navigator.hardwareConcurrency ?? 2,
      xzTool: config.xzTool,
      tmpDir: join(config.stateDir, "tmp"),
      meanwhile,
      stage: (i, name, bytes) => {
        const t = targets[i];
        const dir = indexDir(t.suite, t.comp, t.arch);
        // A file as long as the published one is likely the same: signAndWrite compares first.
        if (oldTexts.get(`${dir}/${name}`)?.length !== bytes.length) staged.stage(dir, name, bytes);
      },
    });

  // Usually every listed file is as the cache knows it: then the indexes are built from the
  // cache, and the pool is checked while xz compresses them (nothing is signed before the check
  // has passed). Should the check find a file changed, the indexes are built again.
  const guess = new Map(facts);
  const guessStanzas = new Map(stanzas);
  guessing: for (const comps of members.values()) {
    for (const files of comps.values()) {
      for (const rel of files.keys()) {
        if (guess.has(rel)) continue;
        const f = cache.latest(rel);
        const stanza = trusted.get(rel);
        if (!f || !stanza) {
          guess.clear();
          break guessing;
        }
        guess.set(rel, f);
        guessStanzas.set(rel, stanza);
      }
    }
  }
  let targets: Target[] = [];
  let building: ReturnType<typeof compress> | null = null;
  let checked: Failure | null | undefined;
  const check = () => void (checked ??= statCheck()); // once, and surely before what follows
  if (guess.size) {
    targets = indexTargets(config, members, guess, guessStanzas);
    building = compress(targets, check);
  }
  check();
  // A publish that changes something signs: its key was asked for above; otherwise now.
  askKey();
  if (building && (checked || misses.size)) await building; // wasted: something changed
  if (checked) return checked;
  const reread = await readDebFactsMany(
    [...misses.keys()].map((rel) => ({ path: join(root, rel), name: rel })),
    { xzTool: config.xzTool, tmpDir: join(config.stateDir, "tmp") },
  );
  hashed += reread.length;
  for (const [i, [rel, index]] of [...misses].entries()) {
    const read = reread[i];
    if ("reason" in read) return poolMismatch(rel, index, `is unreadable (${read.message})`);
    const f = cachedDeb(read, read.sig);
    cache.set(rel, f);
    facts.set(rel, f);
    stanzas.set(rel, renderStanza(rel, read));
  }
  for (const comps of members.values()) {
    for (const files of comps.values()) {
      for (const [rel, m] of files) {
        const f = facts.get(rel)!;
        const p = m.published;
        if (p && !m.facts && (p.size !== f.size || p.sha256 !== f.sha256)) {
          return poolMismatch(rel, p.index, `has SHA256 ${f.sha256}, not ${p.sha256}`);
        }
        m.facts = f;
      }
    }
  }
  if (!building || misses.size) {
    targets = indexTargets(config, members, facts, stanzas);
    building = compress(targets);
  }
  const built = await building;
  if ("reason" in built) return built;

  const out = await signAndWrite({
    config,
    targets,
    built,
    known: oldTexts,
    records: targets.map(() => null),
    signing: askKey,
    cache,
    staged,
    removals,
  });
  if ("reason" in out) return out;
  const indexRels = new Set(targets.map((t) => `${indexDir(t.suite, t.comp, t.arch)}/Packages`));
  cache.save(new Set(facts.keys()), indexRels);
  pruneIndexRecords(config.stateDir, indexRels);
  await store.prune();
  return { ...out, hashed, packages: facts.size, readBack: oldTexts.size };
}
