/**
 * kiln's private memory of an APT repository, in the state folder the caller gives: each pool
 * file's size, SHA-256, package, version and architecture, keyed by its path and stat signature
 * (size, mtime in ns, inode, ctime), so publishing again reads only new or changed files; the
 * stat signatures of the `Packages` files kiln wrote, so their stanzas can be reused as they are;
 * and compressed chunks of `Packages` files, keyed by their content, so an index that changed in
 * one place is recompressed only there. Everything here can be derived again: a missing or
 * unreadable cache costs time, never a wrong index (a pool file that changed shows another stat
 * signature and is read again, then checked against what was published).
 *
 * @module
 */

import { dirname, join } from "../engine/path.ts";
import { replaceFileAtomic } from "../engine/durable.ts";
import { statFile } from "../engine/stat.ts";

/** A pool file as last hashed: what the index needs to sort, list and verify it. */
export interface CachedDeb {
  /** `statFile(path).sig` when it was hashed. */
  readonly sig: string;
  readonly size: number;
  readonly sha256: string;
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
}

interface CacheFile {
  readonly version: 3;
  readonly entries: Record<string, CachedDeb>;
  /** Stat signatures of the `Packages` files kiln wrote, by path. */
  readonly indexes: Record<string, string>;
}

/** One line of the journal: what a publish changed. */
interface JournalLine {
  readonly set?: Record<string, CachedDeb>;
  readonly del?: readonly string[];
  readonly idx?: Record<string, string>;
  readonly idel?: readonly string[];
}

const FILE = "apt-index-cache.json";
/** Changes since the file was last written whole, a JSON line per publish. */
const JOURNAL = "apt-index-cache.log";
/** Lines the journal may hold before the next save writes the whole file again. */
const JOURNAL_LINES = 64;

/** The file and journal as read. */
interface Loaded {
  readonly entries: Map<string, CachedDeb>;
  readonly indexes: Map<string, string>;
  /** Journal lines since the file was written whole ({@link JOURNAL_LINES} when there is none). */
  journalLines: number;
}

/**
 * Pool file facts by pool path, and the stat signatures of the `Packages` files kiln wrote (whose
 * stanzas can then be reused as they are), loaded from and saved to
 * `<stateDir>/apt-index-cache.json`.
 *
 * A publish that changes a few entries (adding a package to a large repository) appends them to
 * a journal beside it instead of writing every entry again; every {@link JOURNAL_LINES} publishes
 * the whole file is rewritten and the journal emptied. Replaying a line twice changes nothing,
 * and a torn last line is ignored, which only costs reading a package again.
 *
 * Nothing is read until something is looked up: a publish that knows what it changed (see
 * {@link IndexCache.saveChanges}) only appends its journal line.
 */
export class IndexCache {
  readonly #path: string;
  #loaded: Loaded | null = null;
  readonly #changed = new Map<string, CachedDeb>();
  readonly #changedIndexes = new Map<string, string>();

  private constructor(path: string) {
    this.#path = path;
  }

  /** The cache of `stateDir` (read when first needed; absent, torn or foreign is empty). */
  static load(stateDir: string): IndexCache {
    return new IndexCache(join(stateDir, FILE));
  }

  #journalPath(): string {
    return join(dirname(this.#path), JOURNAL);
  }

  /** The journal's lines (a torn last one and what follows it left out). */
  #journal(): JournalLine[] {
    const lines: JournalLine[] = [];
    try {
      for (const line of Deno.readTextFileSync(this.#journalPath()).split("\n")) {
        if (!line) continue;
        lines.push(JSON.parse(line));
      }
    } catch {
      // no journal, or a torn last line: what was read so far stands
    }
    return lines;
  }

  /** Journal lines on disk, or {@link JOURNAL_LINES} when there is no file to journal onto. */
  #unloadedJournalLines(): number {
    return statFile(this.#path) ? this.#journal().length : JOURNAL_LINES;
  }

  #data(): Loaded {
    if (this.#loaded) return this.#loaded;
    let data: CacheFile | null = null;
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(this.#path));
      if (parsed?.version === 3 && parsed.entries && parsed.indexes) data = parsed;
    } catch {
      // no cache yet, or unreadable: start empty
    }
    const entries = new Map(Object.entries(data?.entries ?? {}));
    const indexes = new Map(Object.entries(data?.indexes ?? {}));
    const journal = data ? this.#journal() : [];
    for (const line of journal) {
      for (const [k, v] of Object.entries(line.set ?? {})) entries.set(k, v);
      for (const k of line.del ?? []) entries.delete(k);
      for (const [k, v] of Object.entries(line.idx ?? {})) indexes.set(k, v);
      for (const k of line.idel ?? []) indexes.delete(k);
    }
    // No base file: the next save writes it whole.
    return this.#loaded = { entries, indexes, journalLines: data ? journal.length : JOURNAL_LINES };
  }

  /** The facts of `poolRel` when its stat signature is still `sig`. */
  get(poolRel: string, sig: string): CachedDeb | undefined {
    const e = this.latest(poolRel);
    return e && e.sig === sig ? e : undefined;
  }

  /** The facts of `poolRel` as last recorded, whatever its stat signature is now. */
  latest(poolRel: string): CachedDeb | undefined {
    return this.#changed.get(poolRel) ?? this.#data().entries.get(poolRel);
  }

  set(poolRel: string, entry: CachedDeb): void {
    this.#changed.set(poolRel, entry);
  }

  /** Whether kiln wrote the index at `indexRel` and it still has stat signature `sig`. */
  wroteIndex(indexRel: string, sig: string): boolean {
    return (this.#changedIndexes.get(indexRel) ?? this.#data().indexes.get(indexRel)) === sig;
  }

  setIndex(indexRel: string, sig: string): void {
    this.#changedIndexes.set(indexRel, sig);
  }

  /**
   * Saves the cache, keeping only the pool paths and indexes given: a journal line for a few
   * changes, else the whole file (atomically) and an empty journal.
   */
  save(keepFiles: ReadonlySet<string>, keepIndexes: ReadonlySet<string>): void {
    const data = this.#data();
    const set = [...this.#changed].filter(([k, v]) => data.entries.get(k) !== v);
    const idx = [...this.#changedIndexes].filter(([k, v]) => data.indexes.get(k) !== v);
    for (const [k, v] of set) data.entries.set(k, v);
    for (const [k, v] of idx) data.indexes.set(k, v);
    const del = [...data.entries.keys()].filter((k) => !keepFiles.has(k));
    const idel = [...data.indexes.keys()].filter((k) => !keepIndexes.has(k));
    for (const k of del) data.entries.delete(k);
    for (const k of idel) data.indexes.delete(k);
    this.#write(
      {
        set: set.filter(([k]) => keepFiles.has(k)),
        idx: idx.filter(([k]) => keepIndexes.has(k)),
        del,
        idel,
      },
      data.entries.size,
    );
  }

  /**
   * Saves what changed without reading the cache first, for a publish that knows which pool
   * paths it no longer lists (`dropped`) and how many it does (`listed`): a journal line, unless
   * the journal is full or the change large, when the file is written whole after all.
   */
  saveChanges(dropped: readonly string[], listed: number): void {
    const lines = this.#loaded?.journalLines ?? this.#unloadedJournalLines();
    const changes = this.#changed.size + this.#changedIndexes.size + dropped.length;
    if (!this.#loaded && lines < JOURNAL_LINES && changes * 8 < listed + 8) {
      this.#write(
        { set: [...this.#changed], idx: [...this.#changedIndexes], del: dropped },
        listed,
      );
      return;
    }
    const data = this.#data();
    const keep = new Set(data.entries.keys());
    for (const k of this.#changed.keys()) keep.add(k);
    for (const k of dropped) keep.delete(k);
    this.save(keep, new Set([...data.indexes.keys(), ...this.#changedIndexes.keys()]));
  }

  #write(
    change: {
      set: [string, CachedDeb][];
      idx: [string, string][];
      del: readonly string[];
      idel?: readonly string[];
    },
    size: number,
  ): void {
    const { set, idx, del, idel = [] } = change;
    this.#changed.clear();
    this.#changedIndexes.clear();
    const changes = set.length + idx.length + del.length + idel.length;
    if (!changes) return;
    Deno.mkdirSync(dirname(this.#path), { recursive: true });
    const journal = this.#journalPath();
    const lines = this.#loaded?.journalLines ?? this.#unloadedJournalLines();
    if (lines < JOURNAL_LINES && changes * 8 < size + 8) {
      const line: JournalLine = {
        set: Object.fromEntries(set),
        del,
        idx: Object.fromEntries(idx),
        idel,
      };
      Deno.writeTextFileSync(journal, JSON.stringify(line) + "\n", { append: true });
      if (this.#loaded) {
        this.#loaded.journalLines++;
        for (const [k, v] of set) this.#loaded.entries.set(k, v);
        for (const [k, v] of idx) this.#loaded.indexes.set(k, v);
        for (const k of del) this.#loaded.entries.delete(k);
      }
      return;
    }
    const data = this.#data();
    const file: CacheFile = {
      version: 3,
      entries: Object.fromEntries(data.entries),
      indexes: Object.fromEntries(data.indexes),
    };
    // The journal goes first: were the process to stop in between, replaying old lines over
    // the new file would leave stale (harmless, but wasteful) entries.
    try {
      Deno.removeSync(journal);
    } catch { /* none yet */ }
    replaceFileAtomic(this.#path, JSON.stringify(file));
    data.journalLines = 0;
  }
}
