/**
 * The compressed forms of `Packages` chunks (see `packages_index.ts`), kept by content between
 * publishes so that a build which reads an index back compresses only the chunks that changed:
 * each chunk's gzip member, and the xz block of each of its blocks' texts.
 *
 * @module
 */

import { type Removals, removeVia } from "../engine/removals.ts";
import { ensureDir } from "../engine/fs_util.ts";
import { join } from "../engine/path.ts";
import { XZ_FILTER, type XzBlock } from "./xz_blocks.ts";

/** What the store needs to know of a chunk: its key and its xz blocks' keys. */
export interface StoredChunk {
  readonly key: string;
  readonly blocks: readonly { readonly key: string }[];
}

/**
 * Compressed chunks by key (content hash plus format), one file each under
 * `<stateDir>/chunks/`. Reads of missing chunks return null.
 */
export class ChunkStore {
  readonly #dir: string;
  readonly #used = new Set<string>();
  readonly #writes: Promise<void>[] = [];
  readonly #put = new Set<string>();

  /** @param removals where deletions go (on other threads); none: deleted here */
  constructor(stateDir: string, private readonly removals?: Removals) {
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

  /** The stored name of chunk `key`'s gzip member. */
  static gzName(key: string): string {
    return `${key}.gz`;
  }

  /**
   * The stored name of the xz block of the text whose key is `key`, under {@link XZ_FILTER}'s
   * tag (so blocks made with another filter are never joined with these).
   */
  static xzName(key: string): string {
    return `${key}.${XZ_FILTER.tag}`;
  }

  /** The stored names of a chunk's forms: its gzip member and its xz blocks. */
  static chunkNames(chunk: StoredChunk): string[] {
    return [ChunkStore.gzName(chunk.key), ...chunk.blocks.map((b) => ChunkStore.xzName(b.key))];
  }

  /** Marks a chunk as used by this publish without reading it (a chunk reused as published). */
  keep(chunk: StoredChunk): void {
    for (const name of ChunkStore.chunkNames(chunk)) this.#used.add(name);
  }

  /**
   * Deletes the forms of `chunks` that this publish did not use: what a publish that knows
   * exactly which chunks it replaced does instead of {@link prune}, which lists them all.
   */
  async drop(chunks: Iterable<StoredChunk>): Promise<void> {
    await this.flush();
    for (const chunk of chunks) {
      for (const name of ChunkStore.chunkNames(chunk)) {
        if (this.#used.has(name)) continue;
        removeVia(this.removals, join(this.#dir, name));
      }
    }
  }

  /**
   * Stores `bytes` (which must not change meanwhile) as `key`, written on another thread: a full
   * build stores some 40 new files, each a few hundred microseconds of this thread's time
   * written here. {@link flush} (which {@link drop} and {@link prune} call) waits for them. A
   * key put already is not written again (a publish that builds its indexes twice puts the same
   * chunks twice, maybe while the first writes still run).
   */
  put(key: string, bytes: Uint8Array): void {
    this.#used.add(key);
    if (this.#put.has(key)) return;
    this.#put.add(key);
    ensureDir(this.#dir);
    const path = join(this.#dir, key);
    const tmp = `${path}.tmp-${Deno.pid}`;
    const write = Deno.writeFile(tmp, bytes).then(() => Deno.rename(tmp, path));
    write.catch(() => {}); // reported by flush()
    this.#writes.push(write);
  }

  /** Waits for the chunks {@link put} is writing, whatever becomes of them (see {@link flush}). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#writes);
  }

  /** Waits for the chunks {@link put} is writing; throws what a write threw. */
  async flush(): Promise<void> {
    const writes = this.#writes.splice(0);
    const failed = (await Promise.allSettled(writes)).find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Deletes the chunks this publish did not use. */
  async prune(): Promise<void> {
    await this.flush();
    let names: string[];
    try {
      names = [...Deno.readDirSync(this.#dir)].map((e) => e.name);
    } catch {
      return;
    }
    for (const n of names) {
      if (!this.#used.has(n)) removeVia(this.removals, join(this.#dir, n));
    }
  }
}

/** An xz block cached as 4 bytes (little-endian unpadded size) then the block's bytes. */
export function packBlock(b: XzBlock): Uint8Array {
  const out = new Uint8Array(4 + b.bytes.length);
  new DataView(out.buffer).setUint32(0, b.unpadded, true);
  out.set(b.bytes, 4);
  return out;
}

/** The xz block {@link packBlock} packed, of a text of `uncompressed` bytes. */
export function unpackBlock(packed: Uint8Array, uncompressed: number): XzBlock {
  const unpadded = new DataView(packed.buffer, packed.byteOffset).getUint32(0, true);
  return { bytes: packed.subarray(4), unpadded, uncompressed };
}
