/**
 * How a `Packages` file is cut: its stanzas in order, cut into chunks, and each chunk into xz
 * blocks, at content-defined points. A boundary falls before a package whose name hashes to 0
 * modulo {@link CHUNK_EVERY} (a chunk) or {@link XZ_BLOCK_EVERY} (an xz block; every chunk
 * boundary is one too), so adding or removing a package moves no boundary but its own, and the
 * chunks and blocks around it are the ones already built.
 *
 * A chunk is the unit of the gzip members, the saved hashing states and the index record; an xz
 * block, about half a chunk, that of `Packages.xz`. xz is the slowest of the three forms: adding
 * a package recompresses one block, half the text gzip compresses again (see
 * `packages_index.ts`), for a `Packages.xz` 6% larger than with a block per chunk.
 *
 * @module
 */

/** On average one chunk boundary every this many packages. */
export const CHUNK_EVERY = 64;
/** On average one xz block boundary every this many packages (divides {@link CHUNK_EVERY}). */
export const XZ_BLOCK_EVERY = 32;
/** A chunk is cut after this many bytes whatever the names say (bounds one recompression). */
export const CHUNK_MAX = 256 * 1024;

/** A package as one index lists it. */
export interface IndexedPackage {
  readonly pkg: string;
  readonly version: string;
  readonly arch: string;
  readonly poolRel: string;
  /** Its rendered stanza (see `stanza.ts`), without the separating blank line. */
  readonly stanza: string;
  /** The pool file's stat signature when its facts were taken (kept in the index's record). */
  readonly sig: string;
}

/** What an index's record keeps of a package: enough to sort it, find it and check its file. */
export type ListedPackage = Omit<IndexedPackage, "stanza">;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order of stanzas in `Packages`: package, version, architecture, pool path. */
export function comparePackages(a: ListedPackage, b: ListedPackage): number {
  return cmp(a.pkg, b.pkg) || cmp(a.version, b.version) || cmp(a.arch, b.arch) ||
    cmp(a.poolRel, b.poolRel);
}

/** Whether a boundary falls before `p`: a name hashing to 0 modulo `every`, after another name. */
function boundary(p: ListedPackage, prev: ListedPackage | undefined, every: number): boolean {
  return prev !== undefined && p.pkg !== prev.pkg && fnv1a(p.pkg) % every === 0;
}

/**
 * Whether a chunk starts at `p` whatever came before it (a content-defined boundary): a package
 * whose name hashes to 0 modulo {@link CHUNK_EVERY}, following another package's stanza.
 */
export function startsChunk(p: ListedPackage, prev: ListedPackage | undefined): boolean {
  return boundary(p, prev, CHUNK_EVERY);
}

/** Whether an xz block starts at `p` inside a chunk: as {@link startsChunk}, every {@link XZ_BLOCK_EVERY}. */
export function startsXzBlock(p: ListedPackage, prev: ListedPackage | undefined): boolean {
  return boundary(p, prev, XZ_BLOCK_EVERY);
}

/** A chunk of an index: the texts of its xz blocks, and the packages it lists, in order. */
export interface TextChunk<P extends ListedPackage = IndexedPackage> {
  /** Blank-line separated stanzas, one string per xz block (the chunk's text is them joined). */
  readonly blocks: readonly string[];
  readonly packages: readonly P[];
}

/**
 * Cuts packages already in {@link comparePackages} order into chunks: before each package that
 * {@link startsChunk}, and after {@link CHUNK_MAX} characters whatever the names say; and each
 * chunk into xz blocks before each package that {@link startsXzBlock}.
 *
 * @example
 * ```ts
 * const chunks = chunkSorted([...packages].sort(comparePackages));
 * const text = chunks.map((c) => c.blocks.join("")).join(""); // the whole `Packages` file
 * ```
 */
export function chunkSorted<P extends IndexedPackage>(sorted: readonly P[]): TextChunk<P>[] {
  const chunks: TextChunk<P>[] = [];
  let blocks: string[] = [];
  let cur = "";
  let length = 0;
  let packages: P[] = [];
  let prev: P | undefined;
  for (const p of sorted) {
    if (cur && (startsChunk(p, prev) || length >= CHUNK_MAX)) {
      blocks.push(cur);
      chunks.push({ blocks, packages });
      blocks = [];
      cur = "";
      length = 0;
      packages = [];
    } else if (cur && startsXzBlock(p, prev)) {
      blocks.push(cur);
      cur = "";
    }
    cur += p.stanza + "\n";
    length += p.stanza.length + 1;
    packages.push(p);
    prev = p;
  }
  if (cur) {
    blocks.push(cur);
    chunks.push({ blocks, packages });
  }
  return chunks;
}

/** Sorts packages and cuts their stanzas into chunks, each as its xz blocks' texts. */
export function packagesChunks(packages: readonly IndexedPackage[]): string[][] {
  return chunkSorted([...packages].sort(comparePackages)).map((c) => [...c.blocks]);
}
