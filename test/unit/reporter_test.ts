import assert from "node:assert/strict";
import { CliReporter } from "../../cli/reporter.ts";

function plainReporter(): { reporter: CliReporter; writes: string[] } {
  const writes: string[] = [];
  const reporter = new CliReporter({
    total: 3,
    live: false,
    explain: false,
    replay: false,
    quiet: false,
    write: (t) => void writes.push(t),
  });
  return { reporter, writes };
}

Deno.test("CliReporter.taskFinished() writes restored tasks' lines together when off a terminal", () => {
  const { reporter, writes } = plainReporter();
  for (const id of ["a", "b"]) {
    reporter.taskStarted(id, "restore");
    reporter.taskFinished({ id, status: "cached", durationMs: 1, reasons: [] });
  }
  assert.deepEqual(writes, [], "restored lines are held for one write");
  reporter.finish({ ran: 0, cached: 2, fresh: 0, failed: 0, skipped: 0 }, 5);
  assert.deepEqual(writes, [
    "[a] cached in 1ms\n[b] cached in 1ms\n",
    "ran 0, cached 2, fresh 0 in 5ms\n",
  ]);
});

Deno.test("CliReporter.taskStarted() writes held lines first when an action starts", () => {
  const { reporter, writes } = plainReporter();
  reporter.taskStarted("a", "restore");
  reporter.taskFinished({ id: "a", status: "cached", durationMs: 2, reasons: [] });
  reporter.taskStarted("b", "run");
  assert.deepEqual(writes, ["[a] cached in 2ms\n"]);
  reporter.taskFinished({ id: "b", status: "ran", durationMs: 3, reasons: [] });
  assert.deepEqual(writes, ["[a] cached in 2ms\n", "[b] ran in 3ms\n"]);
});

Deno.test("CliReporter.warn() writes held lines before the warning", () => {
  const { reporter, writes } = plainReporter();
  reporter.taskFinished({ id: "a", status: "cached", durationMs: 1, reasons: [] });
  reporter.warn("disk almost full");
  assert.deepEqual(writes, ["[a] cached in 1ms\n", "warning: disk almost full\n"]);
});
