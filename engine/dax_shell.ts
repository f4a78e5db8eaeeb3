/**
 * dax (`$`) for TypeScript actions, set up the way kiln runs a task: in the workspace root, with
 * only the task's environment, output appended to the task's log, and killed on Ctrl-C. Loaded
 * on first use: dax costs ~70 ms to import, which builds that never call it should not pay.
 *
 * @module
 */

import type { Shell } from "./task.ts";

/** What a task's `$` needs. */
export interface DaxOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly logPath: string;
  readonly signal: AbortSignal;
}

/** A task's `$`, and how to detach it from the build's abort signal when the action ends. */
export interface TaskDax {
  readonly $: Shell;
  close(): void;
}

/**
 * Builds a dax `$` for one task.
 *
 * @example
 * ```ts
 * const { $, close } = await taskDax({ cwd, env, logPath, signal });
 * await $`tar -czf dist/src.tar.gz src`;
 * close();
 * ```
 */
export async function taskDax(o: DaxOptions): Promise<TaskDax> {
  const { build$, CommandBuilder, KillSignalController } = await import("dax");
  // Appends chunk by chunk, as the shell's `>>` does, so stdout and stderr interleave in order.
  const log = () =>
    new WritableStream<Uint8Array>({
      write: (chunk) => Deno.writeFileSync(o.logPath, chunk, { append: true, create: true }),
    });
  const kill = new KillSignalController();
  const onAbort = () => kill.kill("SIGTERM");
  o.signal.addEventListener("abort", onAbort, { once: true });
  const builder = new CommandBuilder()
    .cwd(o.cwd)
    .clearEnv()
    .env({ ...o.env })
    .stdout(log(), { preventClose: true })
    .stderr(log(), { preventClose: true })
    .signal(kill.signal);
  return {
    $: build$({ commandBuilder: builder }) as unknown as Shell,
    close: () => o.signal.removeEventListener("abort", onAbort),
  };
}
