/**
 * The workspace lock: two kiln processes on one workspace take turns instead of racing on its
 * outputs and state (as Bazel does for its output base). The lock is an `flock` on
 * `.kiln/lock`, so the kernel releases it when a process dies, even by SIGKILL.
 *
 * @module
 */

import { join } from "./path.ts";

/** Takes the workspace lock, calling `onWait` once if another process holds it. */
export async function lockWorkspace(
  root: string,
  onWait: (holder: string) => void,
): Promise<Disposable> {
  const dir = join(root, ".kiln");
  Deno.mkdirSync(dir, { recursive: true });
  const file = await Deno.open(join(dir, "lock"), { read: true, write: true, create: true });
  const locked = file.lock(true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const quick = await Promise.race([
    locked.then(() => true),
    new Promise<false>((r) => timer = setTimeout(() => r(false), 100)),
  ]);
  clearTimeout(timer);
  if (!quick) {
    let holder = "another kiln process";
    try {
      holder = `kiln process ${Deno.readTextFileSync(join(dir, "lock")).trim() || "?"}`;
    } catch { /* unreadable */ }
    onWait(holder);
    await locked;
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(String(Deno.pid)));
  return {
    [Symbol.dispose]() {
      try {
        file.unlockSync();
        file.close();
      } catch { /* already closed */ }
    },
  };
}
