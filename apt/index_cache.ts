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

const FILE = "apt-index-cache.json";

/**
 * Pool file facts by pool path, and the stat signatures of the `Packages` files kiln wrote (whose
 * stanzas can then be reused as they are), loaded from and saved to
 * `<stateDir>/apt-index-cache.json`.
 */
export class IndexCache {
  readonly #path: string;
  readonly #entries: Map<string, CachedDeb>;
  readonly #indexes: Map<string, string>;
  #dirty = false;

  private constructor(path: string, data: CacheFile | null) {
    this.#path = path;
    this.#entries = new Map(Object.entries(data?.entries ?? {}));
    this.#indexes = new Map(Object.entries(data?.indexes ?? {}));
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
    return new IndexCache(path, data);
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
    this.#dirty = true;
  }

  /** Whether kiln wrote the index at `indexRel` and it still has stat signature `sig`. */
  wroteIndex(indexRel: string, sig: string): boolean {
    return this.#indexes.get(indexRel) === sig;
  }

  setIndex(indexRel: string, sig: string): void {
    if (this.#indexes.get(indexRel) === sig) return;
    this.#indexes.set(indexRel, sig);
    this.#dirty = true;
  }

  /** Writes the cache (atomically), keeping only the pool paths and indexes given. */
  save(keepFiles: ReadonlySet<string>, keepIndexes: ReadonlySet<string>): void {
    for (const [map, keep] of [[this.#entries, keepFiles], [this.#indexes, keepIndexes]] as const) {
      for (const k of [...map.keys()]) {
        if (!keep.has(k)) {
          map.delete(k);
          this.#dirty = true;
        }
      }
    }
    if (!this.#dirty) return;
    const data: CacheFile = {
      version: 3,
      entries: Object.fromEntries(this.#entries),
      indexes: Object.fromEntries(this.#indexes),
    };
    Deno.mkdirSync(dirname(this.#path), { recursive: true });
    replaceFileAtomic(this.#path, JSON.stringify(data));
    this.#dirty = false;
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
