/**
 * The real apt client in an isolated configuration for tests: its own state, cache, sources and
 * keyring (`signed-by=`), so the host's apt setup is never read or changed.
 *
 * @module
 */

import { join } from "node:path";

/** A finished command: exit code and its stdout and stderr together. */
export interface Run {
  code: number;
  out: string;
}

/** Runs `cmd` with `args`; never throws for a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const r = await new Deno.Command(cmd, { args, ...opts, stdin: "null" }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

/**
 * An apt configuration under `dir` reading `sources` (`deb <url> <suite> <component>` lines,
 * given `signed-by=keyring`), for amd64 with arm64 as a foreign architecture; `run` runs apt
 * commands with it, in the download folder `dl`.
 */
export function aptClient(dir: string, keyring: string, sources: string[]) {
  const a = join(dir, "apt");
  for (const d of ["state/lists/partial", "cache/archives/partial", "etc/apt.conf.d"]) {
    Deno.mkdirSync(join(a, d), { recursive: true });
  }
  for (const d of ["etc/preferences.d", "etc/trusted.gpg.d", "etc/sources.list.d", "log", "dl"]) {
    Deno.mkdirSync(join(a, d), { recursive: true });
  }
  Deno.writeTextFileSync(join(a, "state/status"), "");
  Deno.writeTextFileSync(
    join(a, "sources.list"),
    sources.map((s) => s.replace("deb ", `deb [signed-by=${keyring}] `)).join("\n") + "\n",
  );
  const conf = {
    "Dir": "/",
    "Dir::State": join(a, "state"),
    "Dir::State::status": join(a, "state/status"),
    "Dir::Cache": join(a, "cache"),
    "Dir::Etc": join(a, "etc"),
    "Dir::Etc::SourceList": join(a, "sources.list"),
    "Dir::Etc::SourceParts": join(a, "etc/sources.list.d"),
    "Dir::Etc::Parts": join(a, "etc/apt.conf.d"),
    "Dir::Etc::Preferences": join(a, "etc/preferences"),
    "Dir::Etc::PreferencesParts": join(a, "etc/preferences.d"),
    "Dir::Etc::Trusted": join(a, "etc/trusted.gpg"),
    "Dir::Etc::TrustedParts": join(a, "etc/trusted.gpg.d"),
    "Dir::Log": join(a, "log"),
    "APT::Architecture": "amd64",
    "Debug::NoLocking": "1",
    "APT::Sandbox::User": "root",
    "Acquire::Languages": "none",
  };
  Deno.writeTextFileSync(
    join(a, "apt.conf"),
    Object.entries(conf).map(([k, v]) => `${k} "${v}";`).join("\n") +
      '\nAPT::Architectures { "amd64"; "arm64"; };\n',
  );
  const env = { APT_CONFIG: join(a, "apt.conf"), LC_ALL: "C" };
  return {
    dl: join(a, "dl"),
    run: (cmd: string, args: string[]) => run(cmd, args, { cwd: join(a, "dl"), env }),
  };
}
