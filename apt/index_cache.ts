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

/**
 * Pool file facts by pool path, and the stat signatures of the `Packages` files kiln wrote (whose
 * stanzas can then be reused as they are), loaded from and saved to
 * `<stateDir>/apt-index-cache.json`.
 *
 * A publish that changes a few entries (adding a package to a large repository) appends them to
 * a journal beside it instead of writing every entry again; every {@link JOURNAL_LINES} publishes
 * the whole file is rewritten and the journal emptied. Replaying a line twice changes nothing,
 * and a torn last line is ignored, which only costs reading a package again.
 */
export class IndexCache {
  readonly #path: string;
  readonly #entries: Map<string, CachedDeb>;
  readonly #indexes: Map<string, string>;
  readonly #changed = new Set<string>();
  readonly #changedIndexes = new Set<string>();
  #journalLines: number;

  private constructor(path: string, data: CacheFile | null, journal: JournalLine[]) {
    this.#path = path;
    this.#entries = new Map(Object.entries(data?.entries ?? {}));
    this.#indexes = new Map(Object.entries(data?.indexes ?? {}));
    for (const line of journal) {
      for (const [k, v] of Object.entries(line.set ?? {})) this.#entries.set(k, v);
      for (const k of line.del ?? []) this.#entries.delete(k);
      for (const [k, v] of Object.entries(line.idx ?? {})) this.#indexes.set(k, v);
      for (const k of line.idel ?? []) this.#indexes.delete(k);
    }
    this.#journalLines = data ? journal.length : JOURNAL_LINES; // no base: write it whole
  }

  /** Loads the cache; an absent, torn or foreign file gives an empty one. */
  static load(stateDir: string): IndexCache {
    const path = join(stateDir, FILE);
    let data: CacheFile | null = null;
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(path));
      if (parsed?.version === 3 && parsed.entries && parsed.indexes) data = parsed;
    } catch {
      // no cache yet, or unreadable: start empty
    }
    const journal: JournalLine[] = [];
    if (data) {
      try {
        for (const line of Deno.readTextFileSync(join(stateDir, JOURNAL)).split("\n")) {
          if (!line) continue;
          journal.push(JSON.parse(line));
        }
      } catch {
        // no journal, or a torn last line: what was read so far stands
      }
    }
    return new IndexCache(path, data, journal);
  }

  /** The facts of `poolRel` when its stat signature is still `sig`. */
  get(poolRel: string, sig: string): CachedDeb | undefined {
    const e = this.#entries.get(poolRel);
    return e && e.sig === sig ? e : undefined;
  }

  /** The facts of `poolRel` as last recorded, whatever its stat signature is now. */
  latest(poolRel: string): CachedDeb | undefined {
    return this.#entries.get(poolRel);
  }

  set(poolRel: string, entry: CachedDeb): void {
    this.#entries.set(poolRel, entry);
    this.#changed.add(poolRel);
  }

  /** Whether kiln wrote the index at `indexRel` and it still has stat signature `sig`. */
  wroteIndex(indexRel: string, sig: string): boolean {
    return this.#indexes.get(indexRel) === sig;
  }

  setIndex(indexRel: string, sig: string): void {
    if (this.#indexes.get(indexRel) === sig) return;
    this.#indexes.set(indexRel, sig);
    this.#changedIndexes.add(indexRel);
  }

  /**
   * Saves the cache, keeping only the pool paths and indexes given: a journal line for a few
   * changes, else the whole file (atomically) and an empty journal.
   */
  save(keepFiles: ReadonlySet<string>, keepIndexes: ReadonlySet<string>): void {
    const del: string[] = [];
    const idel: string[] = [];
    for (
      const [map, keep, gone, changed] of [
        [this.#entries, keepFiles, del, this.#changed],
        [this.#indexes, keepIndexes, idel, this.#changedIndexes],
      ] as const
    ) {
      for (const k of map.keys()) {
        if (!keep.has(k)) {
          map.delete(k);
          (changed as Set<string>).delete(k);
          gone.push(k);
        }
      }
    }
    const changes = this.#changed.size + this.#changedIndexes.size + del.length + idel.length;
    if (!changes) return;
    Deno.mkdirSync(dirname(this.#path), { recursive: true });
    const journal = join(dirname(this.#path), JOURNAL);
    if (this.#journalLines < JOURNAL_LINES && changes * 8 < this.#entries.size + 8) {
      const line: JournalLine = {
        set: Object.fromEntries([...this.#changed].map((k) => [k, this.#entries.get(k)!])),
        del,
        idx: Object.fromEntries([...this.#changedIndexes].map((k) => [k, this.#indexes.get(k)!])),
        idel,
      };
      Deno.writeTextFileSync(journal, JSON.stringify(line) + "\n", { append: true });
      this.#journalLines++;
    } else {
      const data: CacheFile = {
        version: 3,
        entries: Object.fromEntries(this.#entries),
        indexes: Object.fromEntries(this.#indexes),
      };
      // The journal goes first: were the process to stop in between, replaying old lines over
      // the new file would leave stale (harmless, but wasteful) entries.
      try {
        Deno.removeSync(journal);
      } catch { /* none yet */ }
      replaceFileAtomic(this.#path, JSON.stringify(data));
      this.#journalLines = 0;
    }
    this.#changed.clear();
    this.#changedIndexes.clear();
  }
}

/**
 * Compressed chunks by key (content hash plus format), one file each under
 * `<stateDir>/chunks/`. Reads of missing chunks return null.
 */
export class ChunkStore {
  readonly #dir: string;
  readonly #used = new Set<string>();

  constructor(stateDir: string) {
    this.#dir = join(stateDir, "chunks");
  }

  get(key: string): Uint8Array | null {
    this.#used.add(key);
    try {
      return Deno.readFileSync(join(this.#dir, key));
    } catch {
      return null;
    }
  }

  put(key: string, bytes: Uint8Array): void {
    this.#used.add(key);
    Deno.mkdirSync(this.#dir, { recursive: true });
    const path = join(this.#dir, key);
    const tmp = `${path}.tmp-${Deno.pid}`;
    Deno.writeFileSync(tmp, bytes);
    Deno.renameSync(tmp, path);
  }

  /** Deletes the chunks this publish did not use. */
  prune(): void {
    let names: string[];
    try {
      names = [...Deno.readDirSync(this.#dir)].map((e) => e.name);
    } catch {
      return;
    }
    for (const n of names) {
      if (!this.#used.has(n)) {
        try {
          Deno.removeSync(join(this.#dir, n));
        } catch { /* already gone */ }
      }
    }
  }
}
