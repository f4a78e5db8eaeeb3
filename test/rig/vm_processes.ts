/**
 * Finds VM processes a test may have left behind. Other tests boot QEMU on the same machine at
 * the same time, even inside the same process (`deno test --parallel` runs test files as
 * workers of one process), so a check looks only at processes whose command line names the
 * test's own folder, and at what those started.
 *
 * @module
 */

import { descendantsOf, isRunning } from "./workspace.ts";

/** A live process: its pid and command line. */
export interface ProcessInfo {
  readonly pid: number;
  readonly cmd: string;
}

function commandLine(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
  } catch {
    return null;
  }
}

const VM_PROGRAM = /(^|\/)(qemu-system-\S+|packer)( |$)/;

/**
 * Live (non-zombie) QEMU and packer processes whose command line mentions `dir`, with their
 * QEMU and packer descendants (packer's builder plugin names no folder).
 *
 * @example
 * ```ts
 * assert.deepEqual(strayVmProcesses(tmp), []);
 * ```
 */
export function strayVmProcesses(dir: string): ProcessInfo[] {
  const found = new Map<number, string>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = commandLine(Number(e.name));
    if (cmd && VM_PROGRAM.test(cmd) && cmd.includes(dir)) found.set(Number(e.name), cmd);
  }
  for (const pid of [...found.keys()]) {
    for (const d of descendantsOf(pid)) {
      const cmd = commandLine(d);
      if (cmd && VM_PROGRAM.test(cmd)) found.set(d, cmd);
    }
  }
  return [...found].filter(([pid]) => isRunning(pid)).map(([pid, cmd]) => ({ pid, cmd }));
}
