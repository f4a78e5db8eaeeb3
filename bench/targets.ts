/**
 * kiln's performance targets, checked against the measurements. A target whose numbers were not
 * measured (e.g. `--sizes 1000` leaves out N = 10,000) is skipped, not failed.
 *
 * @module
 */

import { APT_SCENARIOS, FTPARCHIVE } from "./apt_index.ts";
import { DEMO_SCENARIOS } from "./demo_pipeline.ts";
import { FETCH_SCENARIO, FETCH_TARGET_RATIO, throughputRatio } from "./fetch_throughput.ts";
import { HASH_SCENARIO } from "./hash_throughput.ts";
import type { Measurement } from "./measurement.ts";

/** Outcome of one target. */
export interface TargetResult {
  readonly target: string;
  readonly status: "PASS" | "FAIL" | "SKIP";
  readonly detail: string;
}

function find(all: readonly Measurement[], tool: string, n: number | null, scenario: string) {
  const m = all.find((x) => x.tool === tool && x.n === n && x.scenario === scenario);
  return m && !m.error && Number.isFinite(m.medianMs) ? m.medianMs : null;
}

function status(ok: boolean): "PASS" | "FAIL" {
  return ok ? "PASS" : "FAIL";
}

function skip(target: string, what: string): TargetResult {
  return { target, status: "SKIP", detail: `not measured: ${what}` };
}

function atMost(
  all: readonly Measurement[],
  n: number,
  scenario: string,
  limitMs: number,
): TargetResult {
  const target = `kiln ${scenario}, N=${n.toLocaleString("en-US")}: <= ${limitMs} ms`;
  const v = find(all, "kiln", n, scenario);
  if (v === null) return skip(target, `kiln ${scenario} at N=${n}`);
  return { target, status: status(v <= limitMs), detail: `${v.toFixed(1)} ms` };
}

/** Checks every target; one result each, in a fixed order. */
export function checkTargets(all: readonly Measurement[]): TargetResult[] {
  const results = [
    atMost(all, 1000, "no-op", 50),
    atMost(all, 10000, "no-op", 300),
    atMost(all, 1000, "restore", 200),
  ];

  {
    const target = "kiln cold, N=1,000: <= 1.2x ninja cold";
    const k = find(all, "kiln", 1000, "cold");
    const n = find(all, "ninja", 1000, "cold");
    results.push(
      k === null || n === null ? skip(target, "kiln and ninja cold at N=1000") : {
        target,
        status: status(k <= 1.2 * n),
        detail: `${k.toFixed(1)} ms vs ninja ${n.toFixed(1)} ms = ${(k / n).toFixed(2)}x`,
      },
    );
  }

  {
    const target = "kiln no-op linear in N: no-op(10,000) / no-op(1,000) <= 15";
    const a = find(all, "kiln", 1000, "no-op");
    const b = find(all, "kiln", 10000, "no-op");
    if (a === null || b === null) {
      results.push(skip(target, "kiln no-op at N=1000 and N=10000"));
    } else {
      const r = b / a;
      const shape = r > 15
        ? "super-linear"
        : r < 5
        ? "linear (below 5x: fixed start-up cost dominates)"
        : "linear";
      results.push({ target, status: status(r <= 15), detail: `ratio ${r.toFixed(2)}: ${shape}` });
    }
  }

  {
    const target = "SHA-256 throughput: kiln hashFile >= 0.9x openssl (whole processes)";
    const k = find(all, "kiln", null, HASH_SCENARIO);
    const o = find(all, "openssl", null, HASH_SCENARIO);
    results.push(
      k === null || o === null ? skip(target, "kiln and openssl SHA-256") : {
        target,
        status: status(o / k >= 0.9),
        detail: `${(o / k).toFixed(2)}x openssl's throughput`,
      },
    );
  }
  {
    // On mean times: runs here are bimodal (a run after the other client's is twice as slow),
    // so a median lands in either mode; the clients alternate so each gets as many of each.
    const target = `Download: kiln fetchFile >= ${FETCH_TARGET_RATIO}x curl -o (2 GiB, loopback)`;
    const k = all.find((x) => x.tool === "kiln" && x.scenario === FETCH_SCENARIO && !x.error);
    const c = all.find((x) => x.tool === "curl" && x.scenario === FETCH_SCENARIO && !x.error);
    if (!k?.samples.length || !c?.samples.length) {
      results.push(skip(target, "kiln and curl downloads"));
    } else {
      const r = throughputRatio(c.samples, k.samples);
      results.push({
        target,
        status: status(r >= FETCH_TARGET_RATIO),
        detail: `${r.toFixed(2)}x curl's throughput (mean times)`,
      });
    }
  }

  {
    const target = "Demo pipeline no-op: <= 60 ms";
    const v = find(all, "kiln", null, DEMO_SCENARIOS.noOp);
    results.push(
      v === null ? skip(target, "the demo no-op") : {
        target,
        status: status(v <= 60),
        detail: `${v.toFixed(1)} ms`,
      },
    );
  }

  {
    const target = "Demo pipeline cold: kiln's own overhead (wall minus packer and QEMU) <= 5%";
    const cold = find(all, "kiln", null, DEMO_SCENARIOS.cold);
    const over = find(all, "kiln", null, DEMO_SCENARIOS.overhead);
    results.push(
      cold === null || over === null ? skip(target, "the demo cold build") : {
        target,
        status: status(over <= 0.05 * cold),
        detail: `${over.toFixed(0)} ms of ${cold.toFixed(0)} ms = ${
          (100 * over / cold).toFixed(1)
        }%`,
      },
    );
  }
  {
    const target = "APT index of 1,000: kiln full build + signing <= apt-ftparchive + gpg";
    const k = find(all, "kiln", 1000, APT_SCENARIOS.full);
    const f = find(all, FTPARCHIVE, 1000, APT_SCENARIOS.full);
    results.push(
      k === null || f === null ? skip(target, "the APT index builds") : {
        target,
        status: status(k <= f),
        detail: `${k.toFixed(0)} ms vs ${f.toFixed(0)} ms = ${
          (k / f).toFixed(2)
        }x (whole processes)`,
      },
    );
  }

  for (const [where, scenario] of [["", APT_SCENARIOS.add], [" mid-index", APT_SCENARIOS.addMid]]) {
    const target = `APT index of 1,000: adding one package${where} <= 10% of kiln's full build`;
    const add = find(all, "kiln", 1000, scenario);
    const full = find(all, "kiln", 1000, APT_SCENARIOS.fullInProcess);
    results.push(
      add === null || full === null ? skip(target, "kiln's APT builds") : {
        target,
        status: status(add <= 0.1 * full),
        detail: `${add.toFixed(1)} ms of ${full.toFixed(0)} ms = ${
          (100 * add / full).toFixed(1)
        }% (both in-process)`,
      },
    );
  }
  return results;
}

/** Target results as text lines; failures stand out (upper case, marked, red on a terminal). */
export function formatTargets(results: readonly TargetResult[], color: boolean): string[] {
  return results.map((r) => {
    const mark = r.status === "FAIL" ? ">>> FAIL" : r.status === "PASS" ? "    PASS" : "    SKIP";
    const line = `${mark}  ${r.target}  (${r.detail})`;
    if (!color) return line;
    const code = r.status === "FAIL" ? "1;31" : r.status === "PASS" ? "32" : "33";
    return `\x1b[${code}m${line}\x1b[0m`;
  });
}
