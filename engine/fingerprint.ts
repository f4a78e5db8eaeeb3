/**
 * Fingerprints: ordered, versioned JSON describing everything that determines a task's outputs.
 * The task's cache key is the SHA-256 of this JSON. Dependencies enter by the digests of their
 * OUTPUT files, not their keys, so a dependency that reruns and yields identical bytes does not
 * rerun its dependents (early cutoff). The manifest of each task's last run is kept so
 * {@link diffFingerprints} can say why a task reruns.
 *
 * @module
 */

import type { JsonValue } from "./task.ts";
import { sha256Small } from "./sha256_small.ts";

/** Bumped whenever the manifest's shape or meaning changes: every key changes with it. */
export const FINGERPRINT_VERSION = 1;

/** The identity of an action. */
export type ActionIdentity =
  | { readonly cmd: string }
  | { readonly module: string; readonly digest: string; readonly version: string | null };

/** `[path, sha256]` pairs, sorted by path. */
export type DigestList = readonly (readonly [string, string])[];

/** What a task's key is computed from. Field order is fixed; lists are sorted. */
export interface Fingerprint {
  readonly v: number;
  readonly id: string;
  readonly action: ActionIdentity;
  /**
   * For a TypeScript action: the local modules its module imports, transitively (static and
   * literal dynamic imports), with their digests, so that editing library code an action calls
   * reruns the task as editing the action's own module does. Absent for commands.
   */
  readonly code?: DigestList;
  readonly params: Readonly<Record<string, JsonValue>>;
  /** Declared env var -> value (`null` when unset). */
  readonly env: Readonly<Record<string, string | null>>;
  /** Tool name -> version line. */
  readonly tools: Readonly<Record<string, string>>;
  readonly platform: { readonly os: string; readonly arch: string } | null;
  readonly inputs: DigestList;
  /** `[dependency id, its output digests]`, sorted by id. */
  readonly deps: readonly (readonly [string, DigestList])[];
}

/** JSON with object keys sorted at every level, so equal values serialize identically. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value as object).sort();
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")
  }}`;
}

function sortedRecord<T>(r: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k];
  return out;
}

/** Builds a fingerprint with every list and record in canonical order. */
export function makeFingerprint(f: Omit<Fingerprint, "v">): Fingerprint {
  const byFirst = (a: readonly [string, unknown], b: readonly [string, unknown]) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  return {
    v: FINGERPRINT_VERSION,
    id: f.id,
    action: f.action,
    ...(f.code ? { code: [...f.code].sort(byFirst) } : {}),
    params: JSON.parse(canonicalJson(f.params)),
    env: sortedRecord(f.env),
    tools: sortedRecord(f.tools),
    platform: f.platform,
    inputs: [...f.inputs].sort(byFirst),
    deps: [...f.deps].sort(byFirst).map(([id, list]) => [id, [...list].sort(byFirst)] as const),
  };
}

/** The exact text that is hashed into the key (and stored for `explain`). */
export function serializeFingerprint(f: Fingerprint): string {
  return JSON.stringify(f);
}

const short = (d: string) => d.slice(0, 12);
const show = (v: unknown) => v === null || v === undefined ? "unset" : JSON.stringify(v);

function diffLists(label: string, a: DigestList, b: DigestList, out: string[]): void {
  const old = new Map(a);
  const now = new Map(b);
  for (const [p, d] of now) {
    const o = old.get(p);
    if (o === undefined) out.push(`${label} "${p}" added`);
    else if (o !== d) out.push(`${label} "${p}" changed (${short(o)} -> ${short(d)})`);
  }
  for (const p of old.keys()) if (!now.has(p)) out.push(`${label} "${p}" removed`);
}

function diffRecords(
  label: string,
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
  out: string[],
): void {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = canonicalJson(a[k] ?? null), y = canonicalJson(b[k] ?? null);
    if (x !== y) out.push(`${label} ${k} changed (${show(a[k])} -> ${show(b[k])})`);
  }
}

/**
 * Human-readable reasons why `now` differs from `before`: one line per changed input file, env
 * value, tool version, parameter, dependency output or action. Empty when they are equal.
 *
 * @example
 * ```ts
 * diffFingerprints(last, current); // ['input "src/1.txt" changed (3a7bd3e2360a -> 9c56cc51b374)']
 * ```
 */
export function diffFingerprints(before: Fingerprint | null, now: Fingerprint): string[] {
  if (!before) return ["no previous run recorded"];
  const out: string[] = [];
  if (before.v !== now.v) out.push(`fingerprint format changed (v${before.v} -> v${now.v})`);
  const a = before.action as Record<string, unknown>, b = now.action as Record<string, unknown>;
  if ("cmd" in a && "cmd" in b) {
    if (a.cmd !== b.cmd) out.push(`command changed (${show(a.cmd)} -> ${show(b.cmd)})`);
  } else if ("module" in a && "module" in b) {
    if (a.module !== b.module) out.push(`module changed (${show(a.module)} -> ${show(b.module)})`);
    else if (a.digest !== b.digest) out.push(`module "${b.module}" code changed`);
    if (a.version !== b.version) {
      out.push(`action version changed (${show(a.version)} -> ${show(b.version)})`);
    }
  } else out.push("action kind changed");
  diffLists("module", before.code ?? [], now.code ?? [], out);
  diffRecords("param", before.params, now.params, out);
  diffRecords("env", before.env, now.env, out);
  diffRecords("tool", before.tools, now.tools, out);
  if (canonicalJson(before.platform) !== canonicalJson(now.platform)) {
    out.push(`platform changed (${show(before.platform)} -> ${show(now.platform)})`);
  }
  diffLists("input", before.inputs, now.inputs, out);
  const oldDeps = new Map(before.deps), newDeps = new Map(now.deps);
  for (const [id, list] of newDeps) {
    const o = oldDeps.get(id);
    if (!o) out.push(`dependency "${id}" added`);
    else diffLists(`dependency "${id}" output`, o, list, out);
  }
  for (const id of oldDeps.keys()) if (!newDeps.has(id)) out.push(`dependency "${id}" removed`);
  return out;
}

/**
 * What kiln keeps of a secret env value (see `Task.secretEnv`): `sha256:<hex>` of it, or `null`
 * when unset.
 */
export function secretDigest(value: string | undefined): string | null {
  return value === undefined ? null : `sha256:${sha256Small(value)}`;
}
