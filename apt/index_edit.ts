/**
 * Changing a published index in place of building it again: the packages added and removed
 * touch a few chunks; those are cut again from their stanzas and every other chunk is reused as
 * published (its bytes sliced out of `Packages`, `Packages.gz` and `Packages.xz` by the lengths
 * the index's record keeps). The result is the chunk list a build from scratch makes, chunk for
 * chunk: chunks are cut where names say (see `packages_index.ts`), so the chunks cut again are
 * widened until the chunks on either side start where a build from scratch would start them.
 *
 * @module
 */

import {
  chunkSorted,
  comparePackages,
  type IndexedPackage,
  type ListedPackage,
  startsChunk,
} from "./index_chunks.ts";
import type { IndexChunk } from "./packages_index.ts";
import {
  firstPackage,
  type IndexRecord,
  listsFile,
  packPackages,
  type RecordedChunk,
  unpackPackages,
} from "./index_record.ts";

/** Size of an xz stream's header, before its first block. */
const XZ_HEADER = 12;

/** The published bytes of an index's three files. */
export interface PublishedForms {
  readonly plain: Uint8Array;
  readonly gz: Uint8Array;
  readonly xz: Uint8Array;
}

/** What changes in one index. */
export interface IndexEdit {
  /** Pool paths to take out (a pool path added again is taken out first). */
  readonly remove: ReadonlySet<string>;
  readonly add: readonly IndexedPackage[];
}

/** An index's chunks after an edit, with the packages each lists (packed). */
export interface EditedIndex {
  readonly chunks: IndexChunk[];
  readonly lists: string[];
  /** The recorded chunks that were cut again (and are not reused elsewhere in the index). */
  readonly replaced: RecordedChunk[];
}

/**
 * Applies `edit` to the index `record` describes, whose files hold `published`. Null when the
 * published bytes do not add up to what the record says (then the index is read back instead).
 *
 * @example
 * ```ts
 * const edited = editIndex(record, published, { remove: new Set(), add: [newPackage] });
 * if (edited) await buildPackagesFiles([edited.chunks], store, opts);
 * ```
 */
export function editIndex(
  record: IndexRecord,
  published: PublishedForms,
  edit: IndexEdit,
): EditedIndex | null {
  const old = record.chunks;
  const n = old.length;
  if (old.some((c) => !c.list)) return null;
  const at: Offsets = { plain: [0], gz: [0], xz: [XZ_HEADER] };
  for (const c of old) {
    at.plain.push(at.plain.at(-1)! + c.plain);
    at.gz.push(at.gz.at(-1)! + c.gz);
    at.xz.push(at.xz.at(-1)! + c.xz);
  }
  // (An empty index's compressed forms are an empty gzip member and xz stream, not chunks.)
  const addsUp = at.plain[n] === published.plain.length && at.gz[n] === published.gz.length &&
    at.xz[n] <= published.xz.length;
  if (n > 0 && !addsUp) return null;

  // The chunks an edit touches: those holding a removed file, and those an addition sorts into.
  const touched = new Set<number>();
  for (const rel of edit.remove) {
    old.forEach((c, i) => {
      if (listsFile(c.list, rel)) touched.add(i);
    });
  }
  const firsts = new Map<number, ListedPackage>();
  const first = (i: number) => {
    let p = firsts.get(i);
    if (!p) firsts.set(i, p = firstPackage(old[i].list));
    return p;
  };
  const last = (i: number) => unpackPackages(old[i].list).at(-1);
  const adds = [...edit.add].sort(comparePackages).map((p) => {
    let lo = 0;
    let hi = n - 1; // the last chunk whose first package sorts at or before p
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (comparePackages(first(mid), p) <= 0) lo = mid;
      else hi = mid - 1;
    }
    touched.add(Math.max(0, lo));
    return { p, chunk: Math.max(0, lo) };
  });
  if (!touched.size) return reuseAll(record, published, at);

  // Runs of touched chunks, each cut again from its stanzas and widened until the chunks left
  // on either side start where a build from scratch starts them; runs that meet are joined.
  const regions: Region[] = [];
  for (const i of [...touched].sort((x, y) => x - y)) {
    const r = regions.at(-1);
    if (r && r.b === i) r.b = i + 1;
    else regions.push({ a: i, b: Math.min(i + 1, n) });
  }
  const decoder = new TextDecoder();
  for (let r = 0; r < regions.length;) {
    const g = regions[r];
    // The packages of chunks [a, b) with their stanzas, minus removals, plus additions.
    const texts = decoder.decode(published.plain.subarray(at.plain[g.a], at.plain[g.b]))
      .split("\n\n");
    const kept: IndexedPackage[] = [];
    let k = 0;
    for (let i = g.a; i < g.b; i++) {
      for (const p of unpackPackages(old[i].list)) {
        const stanza = texts[k++];
        if (stanza === undefined) return null;
        if (!edit.remove.has(p.poolRel)) kept.push({ ...p, stanza: stanza + "\n" });
      }
    }
    if (k !== texts.length - 1 || texts[k] !== "") return null;
    const merged = merge(
      kept,
      adds.filter((x) => x.chunk >= g.a && (x.chunk < g.b || n === 0)).map((x) => x.p),
    );
    const startOk = g.a === 0 || (merged.length > 0 && startsChunk(merged[0], last(g.a - 1)));
    const endOk = g.b === n || (merged.length > 0 && startsChunk(first(g.b), merged.at(-1)));
    if (startOk && endOk) {
      const cut = chunkSorted(merged);
      const lists = cut.map((c) => packPackages(c.packages));
      if (lists.some((l) => l === null)) return null; // not recordable: read the index back
      g.cut = { blocks: cut.map((c) => c.blocks), lists: lists as string[] };
      r++;
      continue;
    }
    if (!startOk) g.a--;
    if (!endOk) g.b++;
    g.cut = undefined;
    if (r > 0 && regions[r - 1].b >= g.a) { // met the run before: join it, and cut it again
      regions[r - 1].b = g.b;
      regions.splice(r, 1);
      r--;
    }
    const next = regions[r + 1];
    if (next && next.a <= regions[r].b) {
      regions[r].b = next.b;
      regions.splice(r + 1, 1);
    }
  }

  const chunks: IndexChunk[] = [];
  const lists: string[] = [];
  const replaced = new Map<string, RecordedChunk>();
  const reusedKeys = new Set<string>();
  let i = 0;
  for (const g of regions) {
    for (; i < g.a; i++) {
      chunks.push(reuse(record, published, at, i));
      lists.push(old[i].list);
      reusedKeys.add(old[i].key);
    }
    chunks.push(...g.cut!.blocks);
    lists.push(...g.cut!.lists);
    for (; i < g.b; i++) replaced.set(old[i].key, old[i]);
  }
  for (; i < n; i++) {
    chunks.push(reuse(record, published, at, i));
    lists.push(old[i].list);
    reusedKeys.add(old[i].key);
  }
  return {
    chunks,
    lists,
    replaced: [...replaced.values()].filter((c) => !reusedKeys.has(c.key)),
  };
}

/** A run of chunks `[a, b)` to cut again, and what it was cut into. */
interface Region {
  a: number;
  b: number;
  cut?: { blocks: (readonly string[])[]; lists: string[] };
}

/** Offsets of each chunk in the three published files (one more than there are chunks). */
interface Offsets {
  readonly plain: number[];
  readonly gz: number[];
  readonly xz: number[];
}

/** Chunk `i` as published. */
function reuse(record: IndexRecord, published: PublishedForms, at: Offsets, i: number): IndexChunk {
  const c = record.chunks[i];
  return {
    key: c.key,
    at: i,
    after: c.after,
    plain: published.plain.subarray(at.plain[i], at.plain[i + 1]),
    gz: published.gz.subarray(at.gz[i], at.gz[i + 1]),
    xz: published.xz.subarray(at.xz[i], at.xz[i + 1]),
    blocks: c.blocks,
  };
}

/** Every chunk as published. */
function reuseAll(record: IndexRecord, published: PublishedForms, at: Offsets): EditedIndex {
  return {
    chunks: record.chunks.map((_, i) => reuse(record, published, at, i)),
    lists: record.chunks.map((c) => c.list),
    replaced: [],
  };
}

/** Two lists in {@link comparePackages} order as one. */
function merge(x: readonly IndexedPackage[], y: readonly IndexedPackage[]): IndexedPackage[] {
  if (!y.length) return [...x];
  const out: IndexedPackage[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    out.push(comparePackages(x[i], y[j]) <= 0 ? x[i++] : y[j++]);
  }
  return out.concat(x.slice(i), y.slice(j));
}
