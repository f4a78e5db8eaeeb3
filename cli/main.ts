/**
 * The commander program: every kiln command, its flags and exit codes. Commands load their
 * modules lazily so `kiln build` starts without paying for the others.
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { buildCommand } from "./build_cmd.ts";
import { configErrorExit, EXIT } from "./exit.ts";
import { BUILD_OPTIONS, parseJobs } from "./build_flags.ts";
import denoJson from "../deno.json" with { type: "json" };

function positiveInt(v: string): number {
  const n = parseJobs(v);
  if (n === null) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

const FILE_HELP = "task file in YAML (default: ./kiln.yaml, else the pipelines in tasks/)";

/** Builds the commander program; each action stores its exit code in `result.code`. */
export function program(result: { code: number }): Command {
  const p = new Command("kiln")
    .description("Content-hashed build task graph for OS images and release packages")
    .exitOverride()
    .configureOutput({ writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)) })
    .showHelpAfterError(false)
    .version(denoJson.version, "-V, --version", "print kiln's version");

  const build = p.command("build")
    .description("build targets (default: all tasks), rerunning only what changed")
    .argument("[targets...]", "task ids")
    .action(async (targets: string[], flags) => {
      result.code = await buildCommand(targets, flags);
    });
  for (const o of BUILD_OPTIONS) {
    const flag = `${o.short ? `${o.short}, ` : ""}${o.long}${o.value ? ` <${o.value}>` : ""}`;
    if (o.key === "jobs") build.option(flag, o.help, positiveInt);
    else build.option(flag, o.help);
  }

  p.command("list")
    .description("list tasks with their descriptions and dependencies")
    .option("-f, --file <path>", FILE_HELP)
    .option("--json", "print JSON")
    .action(async (flags) => {
      result.code = await (await import("./info_cmd.ts")).listCommand(flags);
    });

  p.command("graph")
    .description("print the DAG, colored by last status")
    .argument("[targets...]", "limit to these tasks and their dependencies")
    .addOption(
      new Option("--format <format>", "output format").choices(["dot", "mermaid", "json", "html"])
        .default("dot"),
    )
    .option("-o, --output <file>", "write to a file instead of stdout")
    .option("-f, --file <path>", FILE_HELP)
    .action(async (targets: string[], flags) => {
      result.code = await (await import("./info_cmd.ts")).graphCommand(targets, flags);
    });

  p.command("explain")
    .description("say whether a task would rerun and which inputs changed since its last run")
    .argument("<task>", "task id")
    .option("-f, --file <path>", FILE_HELP)
    .action(async (task: string, flags) => {
      result.code = await (await import("./info_cmd.ts")).explainCommand(task, flags);
    });

  p.command("clean")
    .description("delete the outputs of targets (default: all) and forget their last runs")
    .argument("[targets...]", "task ids")
    .option("-f, --file <path>", FILE_HELP)
    .action(async (targets: string[], flags) => {
      result.code = await (await import("./info_cmd.ts")).cleanCommand(targets, flags);
    });

  const cache = p.command("cache").description("inspect and maintain the local cache");
  const admin = () => import("./cache_cmd.ts");
  cache.command("stats").description("entries, blobs and size").option("--json", "print JSON")
    .action(async (flags) => {
      result.code = await (await admin()).statsCommand(flags);
    });
  cache.command("verify").description("rehash every blob; report corrupt blobs and broken entries")
    .option("--repair", "delete what is corrupt")
    .action(async (flags) => {
      result.code = await (await admin()).verifyCommand(flags);
    });
  cache.command("gc").description("shrink the cache, least recently used entries first")
    .requiredOption("--max-size <size>", "size to shrink to, e.g. 10G or 500M")
    .action(async (flags) => {
      result.code = await (await admin()).gcCommand(flags);
    });
  cache.command("clean").description("delete the whole local cache")
    .action(async () => {
      result.code = await (await admin()).cleanCacheCommand();
    });

  p.command("doctor")
    .description("check this host: tools, memory, disk, and whether VMs run with KVM")
    .option("--json", "print JSON")
    .action(async (flags) => {
      result.code = await (await import("./doctor_cmd.ts")).doctorCommand(flags);
    });

  const ci = p.command("ci").description("helpers for CI workflows");
  ci.command("matrix")
    .description("print the OS templates of the task graph as a GitHub Actions matrix (JSON)")
    .option(
      "--targets <ids>",
      "only these templates: task or distro ids, space- or comma-separated",
    )
    .option("--json", "print JSON (the default)")
    .option("-f, --file <path>", FILE_HELP)
    .action(async (flags) => {
      result.code = await (await import("./ci_cmd.ts")).ciMatrixCommand(flags);
    });

  const keys = p.command("keys").description("make release signing keys");
  keys.command("generate")
    .description("make a repository signing key; prints its fingerprint and expiry, never the key")
    .option("--name <name>", "user ID name (default: kiln release signing key)")
    .option("--email <email>", "user ID email")
    .addOption(new Option("--algorithm <alg>", "key algorithm").choices(["ed25519", "rsa4096"]))
    .option("--expires <when>", "2y, 365d, 8w or never (default: 2y)")
    .option(
      "--out <path>",
      "private key file (default: kiln-signing-key.asc); public: <path>.pub.asc",
    )
    .action(async (flags) => {
      result.code = await (await import("./keys_cmd.ts")).keysGenerateCommand(flags);
    });
  return p;
}

/** Runs kiln with `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const result = { code: EXIT.ok as number };
  const p = program(result);
  try {
    await p.parseAsync(args, { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return configErrorExit(e);
  }
}
