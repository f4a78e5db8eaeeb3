/**
 * Runs one task: decide (fresh, restore from cache, or run), do it, check it, cache it.
 *
 * - fresh: the fingerprint equals the last run's and the workspace still holds its outputs.
 * - cached: an action entry exists for the key; outputs are restored (each blob verified).
 * - ran: outputs are cleared, the action runs, every declared output must exist, the inputs are
 *   re-checked (a file edited while the action ran means the result is not cached), then the
 *   outputs and the log go to the store.
 *
 * @module
 */

import type { BuildReporter, TaskOutcome } from "./events.ts";
import type { Failure } from "./failure.ts";
import { diffFingerprints, type Fingerprint } from "./fingerprint.ts";
import { hashFile, sha256 } from "./hash.ts";
import { collectOutputs, type OutputManifest, outputsState, removeOutputs } from "./outputs.ts";
import { dirname, join } from "./path.ts";
import { logName, logPath, runAction } from "./run_action.ts";
import { decodeInline, encodeInline, INLINE_MAX } from "./inline.ts";
import { sha256Small } from "./sha256_small.ts";
import { ensureDir, removeIfExists } from "./fs_util.ts";
import type { Semaphore } from "./semaphore.ts";
import { statFile } from "./stat.ts";
import type { WorkspaceState } from "./state.ts";
import type { ActionEntry, CacheStore } from "./store.ts";
import type { Task } from "./task.ts";
import {
  type FingerprintContext,
  fingerprintTask,
  type TaskFingerprint,
} from "./task_fingerprint.ts";
import type { ProcessRunner } from "./process.ts";
import { DELEGATION_NO_RESULT, type Delegator } from "./delegator.ts";

/** Everything the executor needs; one per build. */
export interface ExecutorContext extends FingerprintContext {
  readonly state: WorkspaceState;
  readonly store: CacheStore;
  readonly runner: ProcessRunner;
  readonly reporter: BuildReporter;
  readonly jobs: Semaphore;
  readonly pools: ReadonlyMap<string, Semaphore>;
  readonly signal: AbortSignal;
  /** This build's output manifests, filled in as tasks finish. */
  readonly outputs: Map<string, OutputManifest>;
  readonly now: () => number;
  /** TMPDIR of the build's actions. */
  readonly tmpdir: string;
  /**
   * Names of the log files that existed when the build started (listed once, on first use): a
   * restore without a log removes an old one only if there is one, without a stat per task.
   */
  readonly oldLogs: () => ReadonlySet<string>;
  /** Builds the tasks it handles elsewhere (see `delegator.ts`). */
  readonly delegator?: Delegator;
}

/** What a build would do with a task, for `--dry-run` and the executor itself. */
export interface TaskPlan {
  readonly decision: "fresh" | "restore" | "run";
  readonly reasons: string[];
  readonly fingerprint: TaskFingerprint | null;
  readonly entry: ActionEntry | null;
  readonly key: string | null;
  readonly failure?: Failure;
  /** The outputs were checked and none exists: a restore need not clear them first. */
  readonly outputsAbsent?: boolean;
}

function parseFp(json: string | undefined): Fingerprint | null {
  try {
    return json ? JSON.parse(json) : null;
  } catch {
    return null;
  }
}

/** Decides what to do with `task` without changing anything. */
export async function planTask(task: Task, x: ExecutorContext): Promise<TaskPlan> {
  const f = await fingerprintTask(task, x);
  if ("reason" in f) {
    const pending = f.reason === "dependency-pending";
    return {
      decision: "run",
      reasons: [pending ? f.message : `cannot fingerprint: ${f.message}`],
      fingerprint: null,
      entry: null,
      key: null,
      failure: pending ? undefined : f,
    };
  }
  const rec = x.state.get(task.id);
  let outputsAbsent = false;
  if (rec && rec.fp === f.json && rec.outputs) {
    const st = await outputsState(x.graph.root, task.outputs ?? [], rec.outputs, x.digests, x.dirs);
    if (st === "intact") {
      return { decision: "fresh", reasons: [], fingerprint: f, entry: null, key: rec.key };
    }
    outputsAbsent = st === "absent";
  }
  const reasons = rec && rec.fp === f.json
    ? [rec.outputs ? "outputs missing or modified" : "last run failed"]
    : diffFingerprints(parseFp(rec?.fp), f.fp);
  // The last run's key when its fingerprint is this one (a restore after deleted outputs).
  const known = rec && rec.fp === f.json && rec.key ? rec.key : undefined;
  const key = known ?? await sha256(f.json);
  const entry = await x.store.getEntry(key, { expectHit: known !== undefined && !!rec?.outputs });
  return {
    decision: entry ? "restore" : "run",
    reasons,
    fingerprint: f,
    entry,
    key,
    outputsAbsent,
  };
}

/**
 * Writes `bytes` to `dest`, creating its folder only when the write finds it missing. No mode is
 * passed (Deno would add an fchmod to every write): the caller fixes the mode when the umask's
 * default is not the recorded one.
 */
function writeCreatingDir(dest: string, bytes: Uint8Array): void {
  try {
    Deno.writeFileSync(dest, bytes);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    ensureDir(dirname(dest));
    Deno.writeFileSync(dest, bytes);
  }
}

async function restore(
  task: Task,
  entry: ActionEntry,
  x: ExecutorContext,
  absent: boolean,
): Promise<string | null> {
  const root = x.graph.root;
  if (!absent) removeOutputs(root, task.outputs ?? [], x.digests);
  for (const d of entry.outputs.dirs) ensureDir(join(root, d));
  for (const f of entry.outputs.files) {
    const dest = join(root, f.path);
    const text = entry.inline?.[f.path];
    if (text !== undefined) {
      const bytes = decodeInline(text, f.digest, f.size);
      if (!bytes) {
        x.store.discardEntry(entry.key);
        return `cache entry's inline content is corrupt for "${f.path}"`;
      }
      writeCreatingDir(dest, bytes);
      let st = statFile(dest)!;
      if ((st.mode & 0o7777) !== f.mode) { // created with the umask's default mode
        Deno.chmodSync(dest, f.mode);
        st = statFile(dest)!;
      }
      x.digests.record(f.path, st, f.digest);
      continue;
    }
    const miss = await x.store.restoreBlob(f.digest, f.size, f.mode, dest, { cleared: true });
    if (miss) return `cache ${miss} for "${f.path}"`;
    x.digests.record(f.path, statFile(dest)!, f.digest);
  }
  for (const s of entry.outputs.symlinks) {
    ensureDir(dirname(join(root, s.path)));
    Deno.symlinkSync(s.target, join(root, s.path));
  }
  const log = entry.log ? await x.store.readBlobText(entry.log) : null;
  if (log) {
    ensureDir(dirname(logPath(root, task.id)));
    await Deno.writeTextFile(logPath(root, task.id), log);
  } else if (x.oldLogs().has(logName(task.id))) removeIfExists(logPath(root, task.id));
  return null;
}

/** Names the first input that changed since it was fingerprinted, if any. */
async function changedInput(
  root: string,
  f: TaskFingerprint,
  startWallNs: bigint,
): Promise<string | null> {
  const digests = new Map(f.fp.inputs);
  for (const [abs, before] of f.inputStats) {
    const now = statFile(abs);
    if (!now || now.sig !== before.sig) return abs;
    // Same signature but modified within the timestamp tick of the check: compare contents.
    if (now.mtimeNs >= startWallNs) {
      const rel = abs.slice(root.length + 1);
      if ((await hashFile(abs)).digest !== digests.get(rel)) return abs;
    }
  }
  return null;
}

async function storeResult(
  task: Task,
  key: string,
  outputs: OutputManifest,
  ms: number,
  x: ExecutorContext,
) {
  const root = x.graph.root;
  const inline: Record<string, string> = {};
  for (const f of outputs.files) {
    const bytes = f.size <= INLINE_MAX ? Deno.readFileSync(join(root, f.path)) : null;
    // Inlined only if the file still is what was hashed; otherwise putBlob checks it again.
    if (bytes && bytes.length === f.size && sha256Small(bytes) === f.digest) {
      inline[f.path] = encodeInline(bytes);
    } else await x.store.putBlob(join(root, f.path), f.digest, f.size);
  }
  let log: string | null = null;
  const lp = logPath(root, task.id);
  const lst = statFile(lp);
  if (lst && lst.size > 0) {
    log = (await hashFile(lp)).digest;
    await x.store.putBlob(lp, log, lst.size);
  }
  await x.store.putEntry({
    v: 1,
    key,
    task: task.id,
    outputs,
    log,
    ...(Object.keys(inline).length ? { inline } : {}),
    durationMs: Math.round(ms),
    createdAt: new Date().toISOString(),
  });
  return log;
}

/**
 * Has `task` built elsewhere, then restores its outputs by `key` from the store: the same checks
 * as any cache hit. Waiting holds no job slot and no pool (nothing runs here).
 */
async function delegate(
  task: Task,
  key: string,
  x: ExecutorContext,
  record: (status: "cached", outputs: OutputManifest, log: string | null) => void,
): Promise<Omit<TaskOutcome, "id" | "durationMs">> {
  const reasons = ["built elsewhere"];
  if (x.signal.aborted) return { status: "skipped", reasons };
  x.reporter.taskStarted?.(task.id, "delegate");
  const failed = await x.delegator!.build(task, key, x.signal);
  if (failed) return { status: "failed", failure: failed, reasons };
  const entry = await x.store.getEntry(key);
  const miss = entry ? await restore(task, entry, x, false) : "no cache entry";
  if (!entry || miss) {
    return {
      status: "failed",
      reasons,
      failure: {
        reason: DELEGATION_NO_RESULT,
        message:
          `Task "${task.id}" was built elsewhere but its result under key ${
            key.slice(0, 12)
          } could not be restored (${miss}); check that both builds use the same remote cache ` +
          `and KILN_REMOTE_CACHE_KEY, or build here with --builder local`,
      },
    };
  }
  for (const d of entry.outputs.dirs) {
    x.dirs.set(join(x.graph.root, d), statFile(join(x.graph.root, d))?.sig ?? "");
  }
  record("cached", entry.outputs, entry.log);
  return { status: "cached", reasons, logPath: logPath(x.graph.root, task.id) };
}

/** Runs `task` to completion and reports the outcome. Its dependencies have succeeded. */
export async function executeTask(task: Task, x: ExecutorContext): Promise<TaskOutcome> {
  const start = x.now();
  const span = (phase: "check" | "restore" | "action" | "store", s: number) =>
    x.reporter.span?.({ id: task.id, phase, startMs: s, endMs: x.now() });
  const finish = (o: Omit<TaskOutcome, "id" | "durationMs">): TaskOutcome => {
    const outcome = { id: task.id, durationMs: x.now() - start, ...o };
    x.reporter.taskFinished?.(outcome);
    return outcome;
  };
  const plan = await planTask(task, x);
  span("check", start);
  const rec = x.state.get(task.id);
  if (plan.failure) {
    return finish({ status: "failed", failure: plan.failure, reasons: plan.reasons });
  }
  const f = plan.fingerprint!;
  if (plan.decision === "fresh") {
    x.outputs.set(task.id, rec!.outputs!);
    if (rec!.status !== "fresh") x.state.set(task.id, { ...rec!, status: "fresh", durationMs: 0 });
    return finish({ status: "fresh", reasons: [] });
  }
  const record = (
    status: "ran" | "cached",
    outputs: OutputManifest,
    log: string | null,
    fp = f.json,
  ) => {
    x.outputs.set(task.id, outputs);
    x.state.set(task.id, {
      fp,
      key: plan.key!,
      outputs,
      status,
      log,
      durationMs: Math.round(x.now() - start),
      endedAt: new Date().toISOString(),
    });
  };
  const reasons = [...plan.reasons];
  if (plan.entry) {
    const s = x.now();
    x.reporter.taskStarted?.(task.id, "restore");
    const miss = await restore(task, plan.entry, x, plan.outputsAbsent ?? false);
    span("restore", s);
    if (!miss) {
      for (const d of plan.entry.outputs.dirs) {
        x.dirs.set(join(x.graph.root, d), statFile(join(x.graph.root, d))?.sig ?? "");
      }
      record("cached", plan.entry.outputs, plan.entry.log);
      return finish({ status: "cached", reasons, logPath: logPath(x.graph.root, task.id) });
    }
    x.reporter.warn?.(`Task "${task.id}": ${miss}; discarded it and running the task`);
    reasons.push(miss);
  }
  if (x.delegator) {
    const place = await x.delegator.place(task);
    if (typeof place === "object") return finish({ status: "failed", failure: place, reasons });
    if (place === "elsewhere") return finish(await delegate(task, plan.key!, x, record));
  }

  const pool = task.pool ? x.pools.get(task.pool) : undefined;
  const releasePool = pool ? await pool.acquire() : undefined;
  const releaseJob = await x.jobs.acquire();
  const s = x.now();
  const startWallNs = BigInt(Date.now() - 50) * 1_000_000n;
  let result;
  try {
    if (x.signal.aborted) return finish({ status: "skipped", reasons });
    x.reporter.taskStarted?.(task.id, "run");
    // A failed or interrupted run must never look fresh: forget the last run first.
    x.state.delete(task.id);
    // Start from nothing: a stale output must not pass for a new one (or, for a restored
    // hard link, be written through into the cache).
    removeOutputs(x.graph.root, task.outputs ?? [], x.digests);
    result = await runAction(task, x);
    span("action", s);
  } finally {
    // Hashing and storing are kiln's own work: they do not hold a job slot or the pool.
    releaseJob();
    releasePool?.();
  }
  {
    if (result) return finish({ status: "failed", failure: result, reasons, logPath: result.log });
    const outputs = await collectOutputs(
      x.graph.root,
      task.id,
      task.outputs ?? [],
      x.digests,
      x.dirs,
    );
    if ("reason" in outputs) return finish({ status: "failed", failure: outputs, reasons });
    const changed = await changedInput(x.graph.root, f, startWallNs);
    if (changed) {
      const notCached = `input "${changed}" changed while the task ran; result not cached`;
      x.reporter.warn?.(`Task "${task.id}": ${notCached}`);
      record("ran", outputs, null, "");
      return finish({ status: "ran", reasons, notCached, logPath: logPath(x.graph.root, task.id) });
    }
    const st = x.now();
    const log = await storeResult(task, plan.key!, outputs, st - s, x);
    span("store", st);
    record("ran", outputs, log);
    return finish({ status: "ran", reasons, logPath: logPath(x.graph.root, task.id) });
  }
}
