#!/usr/bin/env -S deno run -A
/**
 * kiln's command line: `deno run -A build.ts <command>`, or `deno task build ...`.
 *
 * @module
 */

import { main } from "./cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
