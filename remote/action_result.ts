/**
 * kiln's action entries as REAPI `ActionResult` messages in their JSON form (protojson:
 * camelCase names, int64 as strings, bytes as base64), so that a stock bazel-remote accepts
 * them on `PUT /ac/<key>` with `Content-Type: application/json` (it parses them strictly,
 * rejecting unknown fields, and answers 400 otherwise) and serves them back.
 *
 * What goes where:
 * - kiln's own entry (task, output manifest with folders and modes, log, timings), minus the
 *   inlined contents, is a CAS blob listed as the output file `.kiln/entry.json`;
 * - every output file is an `outputFiles` item with its digest and `isExecutable`; a small
 *   one kiln inlines (see `engine/inline.ts`) carries its bytes in `contents` instead of
 *   being a blob, as REAPI's inlined outputs do; symlinks are `outputSymlinks`;
 * - the log is `stdoutDigest`;
 * - the HMAC signature (see `signature.ts`) is `executionMetadata.worker`, a free-form string
 *   that bazel-remote keeps as it is when set (it fills in the uploader's address otherwise).
 *
 * bazel-remote serves an `ActionResult` only while every blob it lists is in its CAS, so an
 * evicted output reads as a miss, never as an entry that cannot be restored. Empty files are
 * listed like others (the empty blob is uploaded once), since `contents` of zero bytes does not
 * survive re-encoding.
 *
 * Decoding is in two steps, because the entry blob is fetched in between:
 * {@link readActionResult} checks the signature, {@link assembleEntry} checks the blob and
 * rebuilds the {@link ActionEntry}. Each returns a Failure naming why an entry was ignored.
 *
 * @example
 * ```ts
 * const enc = await encodeEntry(entry, secret, logSize);
 * // upload enc.blobs (from the local CAS), then enc.entryBlob, then enc.json to /ac/<key>
 * const ref = await readActionResult(jsonFromServer, key, secret);
 * if (!("reason" in ref)) entry = assembleEntry(ref, blobBytes, key);
 * ```
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { sha256 } from "../engine/hash.ts";
import { decodeInline } from "../engine/inline.ts";
import { normalizeRel } from "../engine/path.ts";
import type { ActionEntry } from "../engine/store.ts";
import { shortHash } from "./http_cache.ts";
import { signEntry, verifyEntry } from "./signature.ts";

/** The output path under which an `ActionResult` lists kiln's entry blob. */
export const ENTRY_PATH = ".kiln/entry.json";

/** SHA-256 of zero bytes. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** An entry ready to upload. */
export interface EncodedEntry {
  /** The `ActionResult` JSON, for `PUT /ac/<key>` as `application/json`. */
  readonly json: string;
  /** kiln's entry without inline contents: the CAS blob `.kiln/entry.json`. */
  readonly entryBlob: Uint8Array;
  readonly entryDigest: string;
  /** The other CAS blobs the entry lists (digest -> size): upload them before the entry. */
  readonly blobs: ReadonlyMap<string, number>;
}

/** What a verified `ActionResult` says, before its entry blob is fetched. */
export interface EntryRef {
  readonly key: string;
  readonly entryDigest: string;
  readonly entrySize: number;
  /** Output path -> base64 `contents` of the inlined outputs. */
  readonly contents: ReadonlyMap<string, string>;
  /** Output path -> digest, as the `ActionResult` lists them. */
  readonly listed: ReadonlyMap<string, string>;
}

interface Digest {
  hash: string;
  sizeBytes: string;
}

const digest = (hash: string, size: number): Digest => ({ hash, sizeBytes: String(size) });
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/**
 * Encodes `entry` for upload, signed with `secret`. `logSize` is the size of the log blob
 * (required when the entry has a log: a REAPI digest carries its size).
 */
export async function encodeEntry(
  entry: ActionEntry,
  secret: string,
  logSize?: number,
): Promise<EncodedEntry> {
  const { inline, ...rest } = entry;
  const entryBlob = new TextEncoder().encode(JSON.stringify(rest));
  const entryDigest = await sha256(entryBlob);
  const blobs = new Map<string, number>();
  const outputFiles: Record<string, unknown>[] = [
    { path: ENTRY_PATH, digest: digest(entryDigest, entryBlob.length) },
  ];
  for (const f of entry.outputs.files) {
    const item: Record<string, unknown> = { path: f.path, digest: digest(f.digest, f.size) };
    if (f.mode & 0o111) item.isExecutable = true;
    const text = inline?.[f.path];
    if (text !== undefined && f.size > 0) item.contents = text;
    else blobs.set(f.digest, f.size);
    outputFiles.push(item);
  }
  const result: Record<string, unknown> = { outputFiles };
  if (entry.outputs.symlinks.length) {
    result.outputSymlinks = entry.outputs.symlinks.map((s) => ({ path: s.path, target: s.target }));
  }
  if (entry.log) {
    if (logSize === undefined) throw new Error(`encodeEntry: no size for log ${entry.log}`);
    result.stdoutDigest = digest(entry.log, logSize);
    blobs.set(entry.log, logSize);
  }
  const meta: Record<string, unknown> = {
    worker: await signEntry(secret, entry.key, entryDigest, entryBlob.length),
  };
  if (ISO.test(entry.createdAt)) {
    const end = Date.parse(entry.createdAt);
    meta.executionStartTimestamp = new Date(end - Math.max(0, entry.durationMs)).toISOString();
    meta.executionCompletedTimestamp = new Date(end).toISOString();
  }
  result.executionMetadata = meta;
  return { json: JSON.stringify(result), entryBlob, entryDigest, blobs };
}

const HEX64 = /^[0-9a-f]{64}$/;

function readDigest(d: unknown): { hash: string; size: number } | null {
  if (!d || typeof d !== "object") return null;
  const { hash, sizeBytes } = d as { hash?: unknown; sizeBytes?: unknown };
  // protojson writes int64 as a string and omits zero; accept a number too.
  const size = sizeBytes === undefined ? 0 : Number(sizeBytes);
  if (typeof hash !== "string" || !HEX64.test(hash) || !Number.isSafeInteger(size) || size < 0) {
    return null;
  }
  return { hash, size };
}

/**
 * Parses an `ActionResult` JSON answer for action `key` and checks its signature. A Failure
 * (`remote-entry-malformed`, `remote-entry-unsigned`, `remote-entry-bad-signature`) says why
 * the entry must be ignored.
 */
export async function readActionResult(
  text: string,
  key: string,
  secret: string,
): Promise<EntryRef | Failure> {
  const at = `Remote cache entry "${shortHash(key)}"`;
  let ar: Record<string, unknown>;
  try {
    ar = JSON.parse(text);
    if (!ar || typeof ar !== "object" || Array.isArray(ar)) throw new Error("not an object");
  } catch {
    return failure(
      "remote-entry-malformed",
      `${at} is not an ActionResult in JSON; ignored it (a server that answers in binary protobuf ignores Accept: application/json)`,
    );
  }
  const files = Array.isArray(ar.outputFiles) ? ar.outputFiles : [];
  let ref: { hash: string; size: number } | null = null;
  const contents = new Map<string, string>(), listed = new Map<string, string>();
  for (const f of files as Record<string, unknown>[]) {
    const d = readDigest(f?.digest);
    if (typeof f?.path !== "string" || !d) {
      return failure("remote-entry-malformed", `${at} lists an output without path or digest`);
    }
    if (f.path === ENTRY_PATH) ref = d;
    else listed.set(f.path, d.hash);
    if (typeof f.contents === "string" && f.contents !== "") contents.set(f.path, f.contents);
  }
  const meta = ar.executionMetadata as Record<string, unknown> | undefined;
  const worker = typeof meta?.worker === "string" ? meta.worker : "";
  if (!ref || !worker.startsWith("kiln-hmac-sha256:")) {
    return failure(
      "remote-entry-unsigned",
      `${at} is not a signed kiln entry${
        ref ? ` (worker ${JSON.stringify(worker.slice(0, 60))})` : ""
      }; ignored it`,
    );
  }
  if (!await verifyEntry(secret, key, ref.hash, ref.size, worker)) {
    return failure(
      "remote-entry-bad-signature",
      `${at} has a signature that does not verify (altered, or signed with another KILN_REMOTE_CACHE_KEY); ignored it`,
    );
  }
  return { key, entryDigest: ref.hash, entrySize: ref.size, contents, listed };
}

function safePath(p: unknown): p is string {
  return typeof p === "string" && p !== "" && normalizeRel(p) === p;
}

/**
 * Rebuilds the {@link ActionEntry} from a verified reference and its entry blob (whose digest
 * the caller checked). Inline contents must match the digests of the signed manifest; paths
 * must stay in the workspace. A Failure (`remote-entry-malformed`, `remote-entry-tampered`)
 * says why the entry must be ignored.
 */
export function assembleEntry(ref: EntryRef, blob: Uint8Array, key: string): ActionEntry | Failure {
  const at = `Remote cache entry "${shortHash(key)}"`;
  let e: ActionEntry;
  try {
    e = JSON.parse(new TextDecoder().decode(blob));
  } catch {
    return failure("remote-entry-malformed", `${at}: its entry blob is not JSON; ignored it`);
  }
  const o = e?.outputs;
  const shapeOk = e?.v === 1 && e.key === key && typeof e.task === "string" && o &&
    Array.isArray(o.files) && Array.isArray(o.dirs) && Array.isArray(o.symlinks) &&
    (e.log === null || (typeof e.log === "string" && HEX64.test(e.log))) &&
    o.files.every((f) =>
      safePath(f?.path) && typeof f.digest === "string" && HEX64.test(f.digest) &&
      Number.isSafeInteger(f.size) && f.size >= 0 && Number.isInteger(f.mode)
    ) && o.dirs.every(safePath) &&
    o.symlinks.every((s) => safePath(s?.path) && typeof s.target === "string");
  if (!shapeOk) {
    return failure(
      "remote-entry-malformed",
      `${at}: its entry blob is not a kiln entry for this key, or names a path outside the workspace; ignored it`,
    );
  }
  const inline: Record<string, string> = {};
  for (const f of o.files) {
    const listed = ref.listed.get(f.path);
    if (listed !== undefined && listed !== f.digest) {
      return failure(
        "remote-entry-tampered",
        `${at} lists "${f.path}" with another digest than its signed manifest; ignored it`,
      );
    }
    const text = ref.contents.get(f.path);
    if (text !== undefined) {
      if (!decodeInline(text, f.digest, f.size)) {
        return failure(
          "remote-entry-tampered",
          `${at}: the inline content of "${f.path}" does not match its signed digest; ignored it`,
        );
      }
      inline[f.path] = text;
    } else if (f.size === 0 && f.digest === EMPTY_SHA256) inline[f.path] = "";
  }
  const { inline: _ignored, ...rest } = e;
  return Object.keys(inline).length ? { ...rest, inline } : rest;
}
