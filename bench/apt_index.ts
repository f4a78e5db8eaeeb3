/**
 * An APT repository index of 1,000 `.deb` files: kiln's full build with signing (fresh, empty
 * cache) against `apt-ftparchive generate` + `apt-ftparchive release` + `gpg --clearsign` +
 * `gpg --detach-sign` (by-hash on, contents off, the same key imported into a throwaway
 * GNUPGHOME), both as whole processes, taking turns run by run; then adding one package to
 * kiln's repository afterwards. Both sides write `Packages`, `Packages.gz`, `Packages.xz`,
 * `Release` (MD5/SHA-256/SHA-512, by-hash), `InRelease` and `Release.gpg`; kiln also writes the
 * per-architecture `Release`. Two adds are timed: a package whose name sorts last (the usual new
 * package) and one whose name sorts mid-index, since an add hashes its index files again only
 * after the chunks it keeps (see `apt/resumable_hashes.ts`).
 *
 * kiln's full build and one-package add are also timed inside this process (`publishAptRepository`
 * called directly, as it runs inside a kiln build that has already started): the add target
 * compares those two, so Deno's start-up (paid once per build, not per step) is in neither.
 *
 * Every row discards at least its first {@link APT_WARMUP} runs. The in-process rows share one
 * process, where V8 moves a publish's code to its optimizing tiers over the first publishes: at
 * 0b15485 the add took 36, 19, 17, 14, 11, 9, 9 and 9 ms in turn, the full build 156 ms falling
 * to 105 ms. The add's goal compares the two once both are at that steady speed; the whole-
 * process rows (start-up and cold code included) show what one `kiln` run costs.
 *
 * The 1,000 packages (dpkg-deb's defaults, xz) are built once and kept in
 * `bench/.work/apt/pool-v1/`. Run on its own: `deno run -A bench/apt_index.ts [--runs N]`.
 * The kiln side runs as `bench/apt_publish_child.ts`, loading nothing but the publisher.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AptRepoConfig, publishAptRepository } from "../apt/mod.ts";
import type { Failure } from "../engine/failure.ts";
import type { SigningKey } from "../signing/key.ts";
import { failedMeasurement, type Measurement } from "./measurement.ts";
import { REPO_ROOT, WORK_DIR } from "./paths.ts";
import { type ProcessSpec, timeProcess } from "./run_process.ts";
import { type RunPlan, RunSchedule } from "./timed_runs.ts";
import { removePath } from "./workspace_fs.ts";

/** Scenario names of the APT rows. */
export const APT_SCENARIOS = {
  full: "apt index 1,000: full build + sign",
  fullInProcess: "apt index 1,000: full build + sign, in-process",
  add: "apt index 1,000: add one, in-process",
  addMid: "apt index 1,000: add one mid-index, in-process",
  addProcess: "apt index 1,000: add one",
} as const;

/** The baseline's tool name in the results. */
export const FTPARCHIVE = "apt-ftparchive+gpg";

const N = 1000;
/** Runs each row discards first, at least (see the module doc). */
export const APT_WARMUP = 5;
const DIR = join(WORK_DIR, "apt");
const POOL = join(DIR, "pool-v1"); // the generated packages, in kiln's pool layout
const CHILD = join(REPO_ROOT, "bench/apt_publish_child.ts");

function pkgName(i: number): string {
  return `pkg${String(i).padStart(4, "0")}`;
}

/** Pool path of generated package `i` (`pool/main/p/pkg0001/pkg0001_1.1-1_amd64.deb`). */
function poolRel(i: number): string {
  const arch = i % 10 === 0 ? "all" : "amd64";
  return `pool/main/p/${pkgName(i)}/${pkgName(i)}_1.${i}-1_${arch}.deb`;
}

async function sh(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const r = await new Deno.Command(cmd, { args, env, stdin: "null" }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text.trim()}`);
  return text;
}

/** Builds the N + 1 packages with dpkg-deb, once (the last one is the package added later). */
async function ensurePackages(log: (l: string) => void): Promise<void> {
  const done = join(POOL, "done");
  try {
    Deno.statSync(done);
    return;
  } catch { /* build them */ }
  log(`building ${N + 1} packages with dpkg-deb (once, kept in ${POOL})`);
  removePath(POOL);
  const trees = join(DIR, "trees");
  let next = 1;
  const worker = async () => {
    for (let i = next++; i <= N + 1; i = next++) {
      const t = join(trees, pkgName(i));
      Deno.mkdirSync(join(t, "DEBIAN"), { recursive: true });
      Deno.mkdirSync(join(t, `usr/share/doc/${pkgName(i)}`), { recursive: true });
      const words = Array.from({ length: 200 + (i % 300) }, (_, k) => `word${(i * 31 + k) % 997}`);
      Deno.writeTextFileSync(join(t, `usr/share/doc/${pkgName(i)}/README`), words.join(" "));
      const arch = i % 10 === 0 ? "all" : "amd64";
      Deno.writeTextFileSync(
        join(t, "DEBIAN/control"),
        `Package: ${pkgName(i)}\nVersion: 1.${i}-1\nArchitecture: ${arch}\n` +
          `Maintainer: kiln bench <bench@kiln.invalid>\nInstalled-Size: ${4 + i % 40}\n` +
          `Depends: libc6 (>= 2.36)${i > 1 ? `, ${pkgName(i - 1)} (>= 1.${i - 1})` : ""}\n` +
          `Section: misc\nPriority: optional\nHomepage: https://kiln.invalid/${pkgName(i)}\n` +
          `Description: benchmark package ${i}\n One of the packages of kiln's APT benchmark.\n` +
          ` .\n It holds a README of ${words.length} words.\n`,
      );
      const out = join(POOL, poolRel(i));
      Deno.mkdirSync(join(out, ".."), { recursive: true });
      await sh("dpkg-deb", ["--root-owner-group", "--build", t, out]);
    }
  };
  await Promise.all([worker(), worker()]);
  removePath(trees);
  Deno.writeTextFileSync(done, `${N + 1}\n`);
}

/** The package added mid-index: its name sorts between pkg0500 and pkg0501. */
const MID = "pkg0500a";
const MID_REL = `pool/main/p/${MID}/${MID}_1.0-1_amd64.deb`;

/**
 * Builds {@link MID} once: the end-of-index add ({@link pkgName}(N + 1)) keeps every chunk
 * before the last, so its hashing resumes almost at the end; this one changes a chunk in the
 * middle, so half of each index file is hashed again.
 */
async function ensureMidPackage(): Promise<string> {
  const out = join(POOL, MID_REL);
  try {
    Deno.statSync(out);
    return out;
  } catch { /* build it */ }
  const t = join(DIR, "mid-tree");
  removePath(t);
  Deno.mkdirSync(join(t, "DEBIAN"), { recursive: true });
  Deno.mkdirSync(join(t, `usr/share/doc/${MID}`), { recursive: true });
  Deno.writeTextFileSync(join(t, `usr/share/doc/${MID}/README`), "word ".repeat(300));
  Deno.writeTextFileSync(
    join(t, "DEBIAN/control"),
    `Package: ${MID}\nVersion: 1.0-1\nArchitecture: amd64\n` +
      `Maintainer: kiln bench <bench@kiln.invalid>\nInstalled-Size: 4\n` +
      `Depends: libc6 (>= 2.36)\nSection: misc\nPriority: optional\n` +
      `Description: benchmark package added mid-index\n One of the packages of kiln's APT ` +
      `benchmark.\n`,
  );
  Deno.mkdirSync(join(out, ".."), { recursive: true });
  await sh("dpkg-deb", ["--root-owner-group", "--build", t, out]);
  removePath(t);
  return out;
}

/** A throwaway Ed25519 signing key (armored, unprotected), made once. */
async function ensureKey(): Promise<string> {
  const path = join(DIR, "key.asc");
  try {
    Deno.statSync(path);
  } catch {
    const openpgp = await import("openpgp"); // loaded only here: kiln's child loads it lazily
    const { privateKey } = await openpgp.generateKey({
      type: "ecc",
      curve: "ed25519Legacy",
      userIDs: [{ name: "kiln bench", email: "bench@kiln.invalid" }],
      format: "armored",
    });
    Deno.writeTextFileSync(path, privateKey);
  }
  return path;
}

function repoConfig(root: string, stateDir: string): AptRepoConfig {
  return {
    root,
    stateDir,
    origin: "kiln",
    label: "kiln",
    suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }],
  };
}

/** Reads the key; OpenPGP is loaded then, not when this module is. */
async function readKey(path: string): Promise<SigningKey | Failure> {
  const { readSigningKey } = await import("../signing/key.ts");
  return await readSigningKey(Deno.readTextFileSync(path), path);
}

async function loadKey(path: string): Promise<SigningKey> {
  const key = await readKey(path);
  if ("reason" in key) throw new Error(key.message);
  return key;
}

/** How many stanzas `root`'s amd64 `Packages` lists, or why it cannot be read. */
function listed(root: string, want: number): string | null {
  try {
    const text = Deno.readTextFileSync(join(root, "dists/stable/main/binary-amd64/Packages"));
    const n = text.match(/^Package: /gm)?.length ?? 0;
    Deno.statSync(join(root, "dists/stable/InRelease"));
    Deno.statSync(join(root, "dists/stable/Release.gpg"));
    return n === want ? null : `Packages lists ${n} packages, not ${want}`;
  } catch (e) {
    return String(e);
  }
}

/** The baseline as one shell script: generate, release, clearsign, detach-sign. */
function ftparchiveScript(root: string, gnupg: string, fpr: string): string {
  const conf = join(DIR, "ftparchive.conf");
  Deno.writeTextFileSync(
    conf,
    `Dir { ArchiveDir "${root}"; };\n` +
      `Default { Packages::Compress ". gzip xz"; Contents::Compress ""; };\n` +
      `BinDirectory "pool/main" { Packages "dists/stable/main/binary-amd64/Packages"; ` +
      `Contents " "; };\n`,
  );
  const o = "-o APT::FTPArchive::Release";
  const gpg = `gpg --homedir ${gnupg} --batch --yes --local-user ${fpr} --digest-algo SHA512`;
  return [
    "set -e",
    `cd ${root}`,
    "mkdir -p dists/stable/main/binary-amd64",
    `apt-ftparchive generate ${conf}`,
    `apt-ftparchive ${o}::Origin=kiln ${o}::Label=kiln ${o}::Suite=stable ${o}::Codename=stable ` +
    `${o}::Architectures=amd64 ${o}::Components=main -o APT::FTPArchive::DoByHash=true ` +
    `release dists/stable > dists/Release.tmp`,
    "mv dists/Release.tmp dists/stable/Release",
    `${gpg} --clearsign -o dists/stable/InRelease dists/stable/Release`,
    `${gpg} --armor --detach-sign -o dists/stable/Release.gpg dists/stable/Release`,
  ].join("\n");
}

/** Runs the APT scenarios and returns their measurements. */
export async function benchAptIndex(
  plan: RunPlan,
  log: (line: string) => void,
): Promise<Measurement[]> {
  const base = { group: "apt" as const, n: N };
  const fail = (e: unknown) =>
    [FTPARCHIVE, "kiln"].map((tool) =>
      failedMeasurement({ ...base, tool, scenario: APT_SCENARIOS.full }, String(e))
    );
  for (const tool of ["apt-ftparchive", "gpg", "dpkg-deb", "xz"]) {
    try {
      await sh(tool, ["--version"]);
    } catch {
      return fail(`${tool} is not installed (apt-get install apt-utils gnupg xz-utils)`);
    }
  }
  Deno.mkdirSync(DIR, { recursive: true });
  await ensurePackages(log);
  const mid = await ensureMidPackage();
  const keyPath = await ensureKey();
  const key = await loadKey(keyPath);

  // Two repositories over the same package files (hard links), and the baseline's keyring.
  const kilnRoot = join(DIR, "kiln-repo"), ftpRoot = join(DIR, "ftparchive-repo");
  const kilnState = join(DIR, "kiln-state"), gnupg = join(DIR, "gnupg");
  for (const p of [kilnRoot, ftpRoot, kilnState, gnupg]) removePath(p);
  for (const root of [kilnRoot, ftpRoot]) {
    Deno.mkdirSync(root, { recursive: true });
    await sh("cp", ["-al", join(POOL, "pool"), join(root, "pool")]);
  }
  const spareRel = poolRel(N + 1);
  for (const rel of [spareRel, MID_REL]) {
    removePath(join(kilnRoot, rel));
    removePath(join(ftpRoot, rel));
  }
  const spare = join(POOL, spareRel);
  const list = join(DIR, "debs.txt");
  Deno.writeTextFileSync(
    list,
    Array.from({ length: N }, (_, i) => join(kilnRoot, poolRel(i + 1))).join("\n") + "\n",
  );
  Deno.mkdirSync(gnupg, { mode: 0o700 });
  const gpgEnv = { GNUPGHOME: gnupg };
  await sh("gpg", ["--batch", "--import", keyPath], gpgEnv);
  const script = ftparchiveScript(ftpRoot, gnupg, key.fingerprint);

  const kilnFull: ProcessSpec = {
    cmd: Deno.execPath(),
    args: ["run", "-A", CHILD, kilnRoot, kilnState, keyPath, "--list", list],
    cwd: REPO_ROOT,
  };
  const kilnAdd: ProcessSpec = {
    ...kilnFull,
    args: ["run", "-A", CHILD, kilnRoot, kilnState, keyPath, "--add", spare],
  };
  const ftp: ProcessSpec = { cmd: "sh", args: ["-c", script], cwd: ftpRoot };
  const reset = () => {
    removePath(join(kilnRoot, "dists"));
    removePath(kilnState);
    removePath(join(kilnRoot, spareRel));
    removePath(join(kilnRoot, MID_REL));
  };
  const config = repoConfig(kilnRoot, kilnState);
  const all = Array.from({ length: N }, (_, i) => ({
    deb: join(kilnRoot, poolRel(i + 1)),
    suite: "stable",
    component: "main",
  }));
  const inProcess = async (request: Parameters<typeof publishAptRepository>[2]) => {
    const t = performance.now();
    const r = await publishAptRepository(config, key, request);
    const ms = performance.now() - t;
    if ("reason" in r) throw new Error(r.message);
    return ms;
  };
  const timed = async (spec: ProcessSpec, root: string, want: number) => {
    const r = await timeProcess(spec, plan.timeoutMs);
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.tail}`);
    const problem = listed(root, want);
    if (problem) throw new Error(problem);
    return r.ms;
  };

  const runs: RunPlan = { ...plan, warmup: Math.max(plan.warmup, APT_WARMUP) };
  const s = {
    ftp: new RunSchedule(runs),
    full: new RunSchedule(runs),
    fullIn: new RunSchedule(runs),
    add: new RunSchedule(runs),
    addMid: new RunSchedule(runs),
    addProc: new RunSchedule(runs),
  };
  try {
    for (let i = 0; !s.ftp.done || !s.full.done; i++) {
      removePath(join(ftpRoot, "dists"));
      s.ftp.record(await timed(ftp, ftpRoot, N));
      reset();
      s.full.record(await timed(kilnFull, kilnRoot, N));
      reset();
      s.fullIn.record(await inProcess({ add: all }));
      s.add.record(await inProcess({ add: [{ deb: spare, suite: "stable", component: "main" }] }));
      const problem = listed(kilnRoot, N + 1);
      if (problem) throw new Error(`after adding one: ${problem}`);
      await inProcess({ remove: [{ suite: "stable", package: pkgName(N + 1) }] });
      removePath(join(kilnRoot, spareRel));
      s.addMid.record(await inProcess({ add: [{ deb: mid, suite: "stable", component: "main" }] }));
      await inProcess({ remove: [{ suite: "stable", package: MID }] });
      removePath(join(kilnRoot, MID_REL));
      s.addProc.record(await timed(kilnAdd, kilnRoot, N + 1));
      log(`apt run ${i + 1}: ftparchive+gpg ${s.ftp.samples.at(-1)?.toFixed(0) ?? "warm-up"} ms`);
    }
  } catch (e) {
    return fail(e instanceof Error ? e.message : e);
  } finally {
    await new Deno.Command("gpgconf", { args: ["--kill", "gpg-agent"], env: gpgEnv }).output();
  }
  const row = (tool: string, scenario: string, r: RunSchedule, note?: string): Measurement => {
    const x = r.result();
    return {
      ...base,
      tool,
      scenario,
      medianMs: x.median,
      minMs: x.min,
      maxMs: x.max,
      samples: x.samples,
      note,
    };
  };
  return [
    row(FTPARCHIVE, APT_SCENARIOS.full, s.ftp, "generate + release + clearsign + detach-sign"),
    row("kiln", APT_SCENARIOS.full, s.full, "fresh cache; whole process (deno start-up included)"),
    row("kiln", APT_SCENARIOS.fullInProcess, s.fullIn, "fresh cache; publishAptRepository()"),
    row("kiln", APT_SCENARIOS.add, s.add, "publishAptRepository() after the full build"),
    row("kiln", APT_SCENARIOS.addMid, s.addMid, "publishAptRepository(), a name mid-index"),
    row("kiln", APT_SCENARIOS.addProcess, s.addProc, "whole process (deno start-up included)"),
  ];
}

if (import.meta.main) {
  {
    const { values } = parseArgs({
      args: Deno.args,
      options: { runs: { type: "string" }, warmup: { type: "string" } },
    });
    const plan: RunPlan = {
      runs: Number(values.runs ?? 5),
      warmup: Number(values.warmup ?? 1),
      slowRuns: 5,
      slowMs: 60_000,
      timeoutMs: 600_000,
    };
    for (const m of await benchAptIndex(plan, (l) => console.error(`[bench] ${l}`))) {
      console.log(
        `${m.tool.padEnd(20)} ${m.scenario.padEnd(48)} ${m.medianMs.toFixed(1).padStart(8)} ms` +
          (m.error ? `  ERROR ${m.error}` : ""),
      );
    }
  }
}
