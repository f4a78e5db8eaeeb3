/**
 * The size, MD5, SHA-256 and SHA-512 of an index file (`Packages`, `.gz`, `.xz`) hashed chunk
 * by chunk, with the three digests' state saved after each chunk. The next publish keeps most
 * chunks as they were; from the state after the last chunk it keeps at the file's start, it
 * hashes only the rest. Adding a package near the end of a large index then hashes one chunk,
 * not the whole file, three times over; in the middle, half of it.
 *
 * A state is OpenSSL's three context structs (`engine/libcrypto.ts`), so this works only where
 * libcrypto loads and its contexts pass their check; elsewhere {@link hashPieces} gives null and
 * the caller hashes whole files.
 *
 * @module
 */

import { concatBytes } from "../engine/bytes.ts";
import {
  CONTEXT_SIZES,
  type DigestAlgorithm,
  type DigestContext,
  type Libcrypto,
  loadLibcrypto,
} from "../engine/libcrypto.ts";
import { hashBytes } from "./file_hashes.ts";
import type { FileHashes } from "./stanza.ts";

const ALGORITHMS: readonly DigestAlgorithm[] = ["md5", "sha256", "sha512"];
/** Bytes of one saved state: the three contexts, in {@link ALGORITHMS} order. */
export const STATE_SIZE = ALGORITHMS.reduce((n, a) => n + CONTEXT_SIZES[a], 0);

/** A file as hashed: what comes before its chunks, each chunk's bytes, and what follows. */
export interface PiecedFile {
  /** Bytes before the first piece (the xz stream header; empty for the other forms). */
  readonly head: Uint8Array;
  readonly pieces: readonly Uint8Array[];
  /** Bytes after the last piece (the xz index and footer; empty for the other forms). */
  readonly tail: Uint8Array;
}

/** Where to resume: pieces `[0, at)` are the bytes they were, `state` the state after them. */
export interface ResumePoint {
  readonly at: number;
  readonly state: Uint8Array;
}

/** A file's hashes, and the state after each piece from the resume point on. */
export interface PiecedHashes {
  readonly hashes: FileHashes;
  /** `after[j]` for pieces `j >= at` (the resume point's), else undefined. */
  readonly after: readonly (Uint8Array | undefined)[];
}

function ready(): Libcrypto | null {
  const lib = loadLibcrypto();
  return lib?.contexts ? lib : null;
}

/** Whether saved states can be used in this process (libcrypto loaded, contexts checked). */
export function canResume(): boolean {
  return ready() !== null;
}

/**
 * Hashes `file`, resuming at `resume` when given (its state must be what this gave for the same
 * leading pieces). Null where states cannot be used.
 *
 * @example
 * ```ts
 * const first = hashPieces({ head: new Uint8Array(0), pieces: [a, b], tail }, null);
 * // Later, with `b` replaced by `c`: only `c` and the tail are hashed.
 * hashPieces({ head, pieces: [a, c], tail }, { at: 1, state: first!.after[0]! });
 * ```
 */
export function hashPieces(file: PiecedFile, resume: ResumePoint | null): PiecedHashes | null {
  const lib = ready();
  if (!lib) return null;
  const n = file.pieces.length;
  const at = resume?.at ?? 0;
  const saved: Uint8Array[][] = Array.from({ length: n }, () => []);
  let offset = 0;
  const digests = ALGORITHMS.map((algorithm, k) => {
    const size = CONTEXT_SIZES[algorithm];
    const from = offset;
    offset += size;
    let ctx: DigestContext;
    if (resume) ctx = lib.restore(algorithm, resume.state.subarray(from, from + size));
    else {
      ctx = lib.init(algorithm);
      lib.update(algorithm, ctx, file.head);
    }
    for (let j = at; j < n; j++) {
      lib.update(algorithm, ctx, file.pieces[j]);
      saved[j][k] = lib.save(algorithm, ctx);
    }
    lib.update(algorithm, ctx, file.tail);
    return lib.final(algorithm, ctx);
  });
  let size = file.head.length + file.tail.length;
  for (const p of file.pieces) size += p.length;
  return {
    hashes: { size, md5: digests[0], sha256: digests[1], sha512: digests[2] },
    after: saved.map((s, j) => (j < at ? undefined : concatBytes(s))),
  };
}

/** An index's resume point, for its three forms at once (their states joined: plain, gz, xz). */
export interface IndexResume {
  readonly at: number;
  readonly states: Uint8Array;
}

/**
 * Where an index's hashing resumes: after the run of chunks, from its start, that are kept at
 * the places they had (`at`) with a recorded state (`after`, see `ChunkInfo` in
 * `packages_index.ts`); null when there is none.
 */
export function resumeAfter(
  chunks: readonly { readonly at?: number; readonly after?: string }[],
): IndexResume | null {
  let at = 0;
  while (at < chunks.length && chunks[at].at === at && chunks[at].after) at++;
  const states = at ? Uint8Array.fromBase64(chunks[at - 1].after!) : null;
  return states?.length === 3 * STATE_SIZE ? { at, states } : null;
}

/**
 * Form `form` (0 plain, 1 gz, 2 xz) of an index hashed from `resume`, or, where states cannot
 * be used, `whole` hashed at once (no states then).
 */
export function hashIndexForm(
  file: PiecedFile,
  whole: Uint8Array,
  resume: IndexResume | null,
  form: 0 | 1 | 2,
): PiecedHashes {
  const from = resume && {
    at: resume.at,
    state: resume.states.subarray(form * STATE_SIZE, (form + 1) * STATE_SIZE),
  };
  return hashPieces(file, from) ?? { hashes: hashBytes(whole), after: [] };
}

/**
 * The state to record after chunk `j`: the one recorded before (`kept`) for a chunk hashing
 * resumed after, else the three forms' new states joined (none if a form has none).
 */
export function stateAfter(
  resume: IndexResume | null,
  j: number,
  kept: string | undefined,
  forms: readonly PiecedHashes[],
): string | undefined {
  if (resume && j < resume.at) return kept;
  const states = forms.map((h) => h.after[j]);
  return states.every((f) => f) ? concatBytes(states as Uint8Array[]).toBase64() : undefined;
}
