#!/usr/bin/env -S deno run -A
/**
 * kiln's command line: `deno run -A build.ts <command>`, or `deno task build ...`.
 *
 * A plain `build` (known flags only) starts without commander to keep a no-op build fast; every
 * other command line, help and usage errors included, goes through the commander program in
 * `cli/main.ts`, which declares the same flags from `cli/build_flags.ts`.
 *
 * @module
 */

import { buildCommand, configErrorExit } from "./cli/build_cmd.ts";
import { parseBuildArgs } from "./cli/build_flags.ts";

async function run(args: string[]): Promise<number> {
  const plain = args[0] === "build" ? parseBuildArgs(args.slice(1)) : null;
  if (!plain) return (await import("./cli/main.ts")).main(args);
  try {
    return await buildCommand(plain.targets, plain.flags);
  } catch (e) {
    return configErrorExit(e);
  }
}

if (import.meta.main) Deno.exit(await run(Deno.args));
