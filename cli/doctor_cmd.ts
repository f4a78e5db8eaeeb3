/**
 * `kiln doctor [--json]`: what this host offers kiln (OS, CPU, memory, disk, VM acceleration,
 * tool versions), what is missing and the command that installs it. Exit 0 when the pipelines
 * can run here (KVM unusable is only a warning: VMs run under TCG), 1 when something they need
 * is missing; see `builders/doctor.ts`.
 *
 * @module
 */

import { doctorReport, renderDoctor } from "../builders/doctor.ts";
import { gatherHostFacts } from "../builders/host_facts.ts";

const enc = new TextEncoder();

/** How long `doctor` stays silent before saying it is booting a probe VM (a cached answer is ~0 ms). */
const NOTICE_AFTER_MS = 300;

/**
 * Runs `kiln doctor` in the current folder (whose free disk it reports); returns the exit code.
 * `--json` prints `{ facts, rows, notes, missing, missingForTests, install, exitCode }`.
 */
export async function doctorCommand(flags: { json?: boolean }): Promise<number> {
  const notice = !flags.json && Deno.stderr.isTerminal()
    ? setTimeout(() => {
      Deno.stderr.writeSync(
        enc.encode("Booting a probe VM to see whether KVM works (once per boot)...\n"),
      );
    }, NOTICE_AFTER_MS)
    : undefined;
  let facts;
  try {
    facts = await gatherHostFacts({ dir: Deno.cwd() });
  } finally {
    clearTimeout(notice);
  }
  const report = doctorReport(facts);
  const text = flags.json ? JSON.stringify({ facts, ...report }, null, 2) : renderDoctor(report);
  Deno.stdout.writeSync(enc.encode(text + "\n"));
  return report.exitCode;
}
