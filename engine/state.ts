/**
 * Workspace state (`.kiln/state.json`): each task's last fingerprint, key, outputs and status,
 * plus the digest cache and tool versions. It is what makes a no-op build a stat-only pass, and
 * what `explain` diffs against. Written atomically, and only when something changed.
 *
 * @module
 */

import { DigestCache, type DigestEntries } from "./digest_cache.ts";
import { replaceFileAtomic } from "./durable.ts";
import type { OutputManifest } from "./outputs.ts";
import { dirname, join, kilnDir } from "./path.ts";
import { statFile } from "./stat.ts";

/** What kiln remembers of a task's last run. */
export interface TaskRecord {
  /** The serialized fingerprint (see `fingerprint.ts`). */
  readonly fp: string;
  readonly key: string;
  /** `null` when the run failed. */
  readonly outputs: OutputManifest | null;
  readonly status: "ran" | "cached" | "fresh" | "failed";
  readonly durationMs: number;
  readonly endedAt: string;
  /** Digest of the log blob in the store, when the action printed something. */
  readonly log?: string | null;
}

interface StateFile {
  v: 1;
  tasks: Record<string, TaskRecord>;
  digests: DigestEntries;
  tools: Record<string, string>;
}

/** Loaded workspace state; mutate through the methods, then {@link WorkspaceState.save}. */
export class WorkspaceState {
  readonly path: string;
  readonly digests: DigestCache;
  #tasks: Record<string, TaskRecord>;
  #tools: Record<string, string>;
  #dirty = false;

  private constructor(path: string, file: StateFile, racyFromNs: bigint) {
    this.path = path;
    this.#tasks = file.tasks;
    this.#tools = file.tools;
    this.digests = new DigestCache(file.digests, racyFromNs);
  }

  /** Reads the state of workspace `root`; an absent or unreadable file gives an empty state. */
  static load(root: string): WorkspaceState {
    const path = join(kilnDir(root), "state.json");
    const st = statFile(path);
    let file: StateFile = { v: 1, tasks: {}, digests: {}, tools: {} };
    if (st) {
      try {
        const parsed = JSON.parse(Deno.readTextFileSync(path));
        if (parsed?.v === 1) file = parsed;
      } catch { /* a torn or foreign file: start over, everything is rechecked */ }
    }
    return new WorkspaceState(path, file, st?.mtimeNs ?? 0n);
  }

  /** The last run of task `id`. */
  get(id: string): TaskRecord | undefined {
    return this.#tasks[id];
  }

  /** Records the run of task `id`. */
  set(id: string, rec: TaskRecord): void {
    this.#tasks[id] = rec;
    this.#dirty = true;
  }

  /** Forgets everything about task `id`. */
  delete(id: string): void {
    if (id in this.#tasks) {
      delete this.#tasks[id];
      this.#dirty = true;
    }
  }

  /** Every task id with a record. */
  ids(): string[] {
    return Object.keys(this.#tasks);
  }

  /** Cached tool version for a `binary|stat` key. */
  tool(key: string): string | undefined {
    return this.#tools[key];
  }

  /** Remembers a tool version. */
  setTool(key: string, version: string): void {
    this.#tools[key] = version;
    this.#dirty = true;
  }

  /** True when {@link save} has something to write. */
  get dirty(): boolean {
    return this.#dirty || this.digests.dirty;
  }

  /** Writes the state atomically if it changed. */
  save(): void {
    if (!this.dirty) return;
    Deno.mkdirSync(dirname(this.path), { recursive: true });
    const file: StateFile = {
      v: 1,
      tasks: this.#tasks,
      digests: this.digests.toJSON(),
      tools: this.#tools,
    };
    replaceFileAtomic(this.path, JSON.stringify(file));
    this.#dirty = false;
    this.digests.markSaved();
  }
}
