/**
 * The workspace lock: two kiln processes on one workspace take turns instead of racing on its
 * outputs and state (as Bazel does for its output base). The lock is an `flock` on
 * `.kiln/lock`, so the kernel releases it when a process dies, even by SIGKILL. It is tried
 * without blocking first (FFI), so an uncontended lock costs two syscalls and a contended one
 * prints who holds it before waiting. A holder that lets go within ~60 ms is waited for quietly:
 * a process forked by another thread of this process (a test runner, a runner spawning a
 * worker) shares the lock's open file until it execs, so a build that follows another in the
 * same process can find the lock held for a moment by nobody who is building.
 *
 * @module
 */

import { ensureDir } from "./fs_util.ts";
import { cString, loadLibc } from "./libc.ts";
import { join, kilnDir } from "./path.ts";

const O_RDWR = 2, O_CREAT = 0o100, O_CLOEXEC = 0o2000000;
const LOCK_EX = 2, LOCK_NB = 4;

/** Who holds the lock file at `path`, from the pid its holder wrote into it, for messages. */
export function lockHolder(path: string): string {
  try {
    const pid = Deno.readTextFileSync(path).trim();
    return pid ? `kiln process ${pid}` : "another kiln process";
  } catch {
    return "another kiln process";
  }
}

/** Polls `attempt` with backoff for up to ~60 ms; true once it succeeds. */
async function tryBriefly(attempt: () => boolean): Promise<boolean> {
  if (attempt()) return true;
  for (let ms = 2; ms <= 32; ms *= 2) {
    await new Promise((r) => setTimeout(r, ms));
    if (attempt()) return true;
  }
  return false;
}

/** Takes the workspace lock, calling `onWait` once if another process holds it. */
export async function lockWorkspace(
  root: string,
  onWait: (holder: string) => void,
): Promise<Disposable> {
  const dir = kilnDir(root);
  ensureDir(dir);
  const path = join(dir, "lock");
  const libc = loadLibc();
  const fd = libc ? libc.open(cString(path), O_RDWR | O_CREAT | O_CLOEXEC, 0o644) : -1;
  if (libc && fd >= 0) {
    if (!await tryBriefly(() => libc.flock(fd, LOCK_EX | LOCK_NB) === 0)) {
      onWait(lockHolder(path));
      await libc.flockWait(fd, LOCK_EX);
    }
    Deno.writeTextFileSync(path, String(Deno.pid));
    return { [Symbol.dispose]: () => void libc.close(fd) };
  }
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const locked = file.lock(true);
  const quick = await Promise.race([
    locked.then(() => true),
    new Promise<false>((r) => timer = setTimeout(() => r(false), 100)),
  ]);
  clearTimeout(timer);
  if (!quick) {
    onWait(lockHolder(path));
    await locked;
  }
  Deno.writeTextFileSync(path, String(Deno.pid));
  return { [Symbol.dispose]: () => file.close() };
}
