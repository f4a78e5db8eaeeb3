#!/usr/bin/env -S deno run -A
/**
 * kiln's command line: `deno run -A build.ts <command>`, or `deno task build ...`.
 *
 * A plain `build` (known flags only) starts without commander, and first asks the build stamp
 * whether anything changed at all, loading the engine only when it did: a no-op build of 1,000
 * tasks has a 50 ms budget, of which Deno's own start takes 20-25 ms. Every other command line,
 * help and usage errors included, goes through the commander program in `cli/main.ts`, which
 * declares the same flags from `cli/build_flags.ts`.
 *
 * @module
 */

import { parseBuildArgs } from "./cli/build_flags.ts";
import { configErrorExit } from "./cli/exit.ts";
import { noOpBuild } from "./cli/no_op.ts";

async function run(args: string[]): Promise<number> {
  const plain = args[0] === "build" ? parseBuildArgs(args.slice(1)) : null;
  if (!plain) return (await import("./cli/main.ts")).main(args);
  try {
    const noOp = noOpBuild(plain.targets, plain.flags);
    if (noOp !== null) return noOp;
    const { buildCommand } = await import("./cli/build_cmd.ts");
    return await buildCommand(plain.targets, plain.flags);
  } catch (e) {
    return configErrorExit(e);
  }
}

if (import.meta.main) Deno.exit(await run(Deno.args));
