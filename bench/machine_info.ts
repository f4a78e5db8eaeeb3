/**
 * The machine a benchmark ran on: cores, CPU model, memory, OS, load, date and tool versions.
 *
 * @module
 */

/** Facts printed above the results and saved with them. */
export interface MachineInfo {
  readonly date: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly deno: string;
  /** 1-, 5- and 15-minute load averages when the benchmark started. */
  readonly loadAverage: readonly number[];
  /** One line per tool under test, e.g. "GNU Make 4.3". */
  readonly tools: readonly string[];
}

function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Collects the machine facts; `tools` are the version lines of the tools under test. */
export function machineInfo(tools: readonly string[]): MachineInfo {
  let memoryGiB = NaN;
  try {
    memoryGiB = Deno.systemMemoryInfo().total / 1024 ** 3;
  } catch {
    // unknown
  }
  let loadAverage: number[] = [];
  try {
    loadAverage = Deno.loadavg();
  } catch {
    // unknown
  }
  return {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    cpuModel: cpuModel(),
    memoryGiB,
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    loadAverage,
    tools,
  };
}

/** The machine facts as lines of text for the report. */
export function formatMachineInfo(m: MachineInfo): string[] {
  const load = m.loadAverage.map((l) => l.toFixed(2)).join(" ");
  const lines = [
    `date:    ${m.date}`,
    `machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB.toFixed(0)} GiB RAM, ${m.os}`,
    `deno:    ${m.deno}`,
    `load:    ${load || "unknown"} (1, 5, 15 min) at start`,
    ...m.tools.map((t) => `tool:    ${t}`),
  ];
  if ((m.loadAverage[0] ?? 0) > 0.5 * m.cores) {
    lines.push("note:    the machine was busy when the benchmark started; expect noisy numbers");
  }
  return lines;
}
