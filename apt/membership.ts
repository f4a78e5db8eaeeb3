/**
 * What each suite and component of a repository lists while a publish is computed: members
 * (pool files, as published and as now known), the removals applied to them, and the index
 * targets (one per suite, component and architecture) they become.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { AptRepoConfig } from "./config.ts";
import type { CachedDeb } from "./index_cache.ts";
import { packPackages } from "./index_record.ts";
import { chunkSorted, comparePackages } from "./index_chunks.ts";
import type { PublishedFile } from "./published.ts";
import type { Target } from "./suite_release.ts";

/** Packages to take out of a suite (their pool files stay). */
export interface AptRemoval {
  readonly suite: string;
  /** Only from this component; default every component of the suite. */
  readonly component?: string;
  readonly package: string;
  /** Only this architecture (`all` included); default every one. */
  readonly architecture?: string;
}

/** A removal matched no package. */
export const APT_PACKAGE_NOT_FOUND = "apt-package-not-found";

/** Every index, in memory: one per suite, component and architecture. */
export function indexTargets(
  config: AptRepoConfig,
  members: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, Member>>>,
  facts: ReadonlyMap<string, CachedDeb>,
  stanzas: ReadonlyMap<string, string>,
): Target[] {
  const targets: Target[] = [];
  for (const suite of config.suites) {
    for (const comp of suite.components) {
      const files = [...members.get(suite.name)!.get(comp)!.keys()].map((rel) => ({
        ...facts.get(rel)!,
        poolRel: rel,
        stanza: stanzas.get(rel)!,
      }));
      for (const arch of suite.architectures) {
        const list = files.filter((f) => f.arch === arch || f.arch === "all");
        const chunks = chunkSorted(list.sort(comparePackages));
        targets.push({
          suite: suite.name,
          comp,
          arch,
          chunks: chunks.map((c) => c.blocks),
          lists: chunks.map((c) => packPackages(c.packages)),
        });
      }
    }
  }
  return targets;
}

/** A pool file a component lists: as published, and its facts once known. */
export interface Member {
  facts?: CachedDeb;
  readonly published?: PublishedFile;
}

/** Takes each removal's packages out of `members`; a failure when one matches nothing. */
export function applyRemovals(
  members: Map<string, Map<string, Map<string, Member>>>,
  removals: readonly AptRemoval[],
): Failure | null {
  for (const r of removals) {
    let found = 0;
    for (const [comp, files] of members.get(r.suite) ?? []) {
      if (r.component !== undefined && comp !== r.component) continue;
      for (const [rel, m] of files) {
        const id = m.facts ?? m.published!;
        if (id.pkg === r.package && (r.architecture === undefined || id.arch === r.architecture)) {
          files.delete(rel);
          found++;
        }
      }
    }
    if (!found) return packageNotFound(r);
  }
  return null;
}

/** The failure for a removal that matched no package. */
export function packageNotFound(r: AptRemoval): Failure {
  return failure(
    APT_PACKAGE_NOT_FOUND,
    `Cannot remove ${JSON.stringify(r.package)} from suite ${JSON.stringify(r.suite)}: ` +
      `it lists no such package; check the name`,
  );
}
