/**
 * `--profile FILE`: the build as Chrome trace event JSON, which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open. Each span (check, restore, action, store) is a complete ("X") event on a
 * lane, lanes assigned so overlapping spans never share one.
 *
 * @module
 */

import type { Span } from "../engine/events.ts";

/** Trace event JSON for `spans`. */
export function chromeTrace(spans: readonly Span[]): string {
  const sorted = [...spans].sort((a, b) => a.startMs - b.startMs);
  const laneEnds: number[] = [];
  const events: Record<string, unknown>[] = [
    { name: "process_name", ph: "M", pid: 1, tid: 0, args: { name: "kiln build" } },
  ];
  for (const s of sorted) {
    let lane = laneEnds.findIndex((end) => end <= s.startMs);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = s.endMs;
    events.push({
      name: s.id,
      cat: s.phase,
      ph: "X",
      ts: Math.round(s.startMs * 1000),
      dur: Math.max(1, Math.round((s.endMs - s.startMs) * 1000)),
      pid: 1,
      tid: lane + 1,
      args: { task: s.id, phase: s.phase },
    });
  }
  return JSON.stringify({ traceEvents: events, displayTimeUnit: "ms" });
}
