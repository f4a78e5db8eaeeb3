/**
 * The results table: one row per tool, size and scenario, with the median and its ratio to
 * kiln's median in the same scenario.
 *
 * @module
 */

import type { Measurement } from "./measurement.ts";

/** Column order of the tools; unknown tools sort last. */
const TOOL_ORDER = ["kiln", "ninja", "make", "deno-task", "openssl"];
const GROUP_ORDER = ["graph", "hash", "big", "demo"];
const SCENARIO_ORDER = ["cold", "no-op", "restore", "edit-leaf"];

function rank(list: readonly string[], x: string): number {
  const i = list.indexOf(x);
  return i < 0 ? list.length : i;
}

/** Sorts measurements for display: by part, size, scenario, then tool (kiln first). */
export function sortForDisplay(ms: readonly Measurement[]): Measurement[] {
  return [...ms].sort((a, b) =>
    rank(GROUP_ORDER, a.group) - rank(GROUP_ORDER, b.group) ||
    (a.n ?? 0) - (b.n ?? 0) ||
    rank(SCENARIO_ORDER, a.scenario) - rank(SCENARIO_ORDER, b.scenario) ||
    a.scenario.localeCompare(b.scenario) ||
    rank(TOOL_ORDER, a.tool) - rank(TOOL_ORDER, b.tool)
  );
}

/** kiln's measurement in the same part, size and scenario as `m`, if any. */
export function kilnCounterpart(
  all: readonly Measurement[],
  m: Measurement,
): Measurement | undefined {
  return all.find((k) =>
    k.tool === "kiln" && k.group === m.group && k.n === m.n && k.scenario === m.scenario
  );
}

/** `m`'s median divided by kiln's in the same scenario (above 1: kiln is faster). */
export function ratioToKiln(all: readonly Measurement[], m: Measurement): number {
  const k = kilnCounterpart(all, m);
  return k ? m.medianMs / k.medianMs : NaN;
}

function ms(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : "-";
}

/** Renders rows as a left-aligned text table (numbers right-aligned), header first. */
export function textTable(header: readonly string[], rows: readonly string[][]): string {
  const numeric = header.map((_, c) => rows.every((r) => /^[-\d.,x×]*$/.test(r[c] ?? "")));
  const width = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => numeric[c] ? cell.padStart(width[c]) : cell.padEnd(width[c])).join("  ")
      .trimEnd();
  return [line(header), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The results table as text, followed by the errors of failed scenarios. */
export function formatResults(all: readonly Measurement[]): string {
  const sorted = sortForDisplay(all);
  const rows = sorted.map((m) => {
    const ratio = ratioToKiln(all, m);
    return [
      m.tool,
      m.n === null ? "-" : String(m.n),
      m.scenario,
      m.error ? "FAILED" : ms(m.medianMs),
      m.error ? "-" : `${ms(m.minMs)}-${ms(m.maxMs)}`,
      String(m.samples.length),
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "-",
      m.note ?? "",
    ];
  });
  const header = ["tool", "N", "scenario", "median ms", "min-max ms", "runs", "tool/kiln", "note"];
  const lines = [textTable(header, rows)];
  lines.push(
    "",
    "tool/kiln: the tool's median divided by kiln's in the same row group; above 1 means kiln is faster.",
  );
  const failed = sorted.filter((m) => m.error);
  if (failed.length) {
    lines.push("", "Failed scenarios:");
    for (const m of failed) {
      lines.push(`  ${m.tool} ${m.n ?? ""} ${m.scenario}: ${m.error!.split("\n").join("\n    ")}`);
    }
  }
  return lines.join("\n");
}
