/**
 * A suite's files in memory, before anything is written: its `Packages` files with their sizes
 * and hashes, the per-architecture `Release` files, the top-level `Release` listing them all,
 * and how to sign it (`InRelease` clearsigned and `Release.gpg` detached, SHA-512), with the key
 * fetched and OpenPGP loaded only when a `Release` changed.
 *
 * @module
 */

import { join } from "../engine/path.ts";
import type { Failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";
import { holds } from "./by_hash.ts";
import type { AptRepoConfig, AptSuiteConfig } from "./config.ts";
import type { IndexChunk, PackagesFiles } from "./packages_index.ts";
import { hashBytes } from "./file_hashes.ts";
import { indexDir } from "./published.ts";
import type { AptSigner } from "./publish.ts";
import { archReleaseText, type ReleaseEntry, releaseText } from "./release_file.ts";
import type { ReleaseSignatures } from "./worker_signer.ts";

/** One `Packages` file to build: its chunks, and the packages each chunk lists. */
export interface Target {
  readonly suite: string;
  readonly comp: string;
  readonly arch: string;
  readonly chunks: readonly IndexChunk[];
  /** Each chunk's packages, packed (see `packPackages`); null where they cannot be. */
  readonly lists: readonly (string | null)[];
}

/** One file of a suite, in memory. */
export interface SuiteFile {
  readonly dir: string;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly entry: ReleaseEntry;
}

/** How to sign a `Release`: its `InRelease` and `Release.gpg` (or why the key cannot). */
export type Sign = (release: string) => Promise<ReleaseSignatures | Failure>;

/** Gets the key (checked for apt) and loads OpenPGP, without blocking the caller. */
export function prepareSigning(signer: AptSigner): Promise<Sign | Failure> {
  if (typeof signer === "object" && "sign" in signer) {
    return Promise.resolve((release: string) => signer.sign(release));
  }
  const load = async (): Promise<Sign | Failure> => {
    const [{ clearsign, signDetached }, { checkAptSigningKey }] = await Promise.all([
      import("../signing/sign.ts"),
      import("./key_check.ts"),
    ]);
    const key = typeof signer === "function" ? await signer() : signer;
    if ("reason" in key) return key;
    const weak = await checkAptSigningKey(key);
    if (weak) return weak;
    // openpgp.js writes the cleartext with CRLF line ends; the signature is over the canonical
    // (CRLF) text either way, so InRelease keeps Release's own LF lines, as Debian's do.
    return async (release) => {
      const [clear, detached] = await Promise.all([
        clearsign(key, release),
        signDetached(key, release),
      ]);
      return { inRelease: clear.replaceAll("\r\n", "\n"), detached };
    };
  };
  const p = load();
  p.catch(() => {}); // awaited only when something needs signing
  return p;
}

/** A suite's index files and `Release` in memory; `fresh` when its `Release` is unchanged. */
export function suiteFiles(
  config: AptRepoConfig,
  suite: AptSuiteConfig,
  targets: readonly Target[],
  built: readonly PackagesFiles[],
) {
  const common = {
    origin: config.origin,
    label: config.label ?? config.origin,
    suite: suite.name,
    codename: suite.codename ?? suite.name,
    version: suite.version,
  };
  const files: SuiteFile[] = [];
  targets.forEach((t, i) => {
    if (t.suite !== suite.name) return;
    const dir = indexDir(t.suite, t.comp, t.arch);
    const archRelease = new TextEncoder().encode(archReleaseText(common, t.comp, t.arch));
    const b = built[i];
    for (
      const [name, bytes, hashes] of [
        ["Packages", b.plain, b.hashes.plain],
        ["Packages.gz", b.gz, b.hashes.gz],
        ["Packages.xz", b.xz, b.hashes.xz],
        ["Release", archRelease, hashBytes(archRelease)],
      ] as const
    ) {
      const entry = { path: `${t.comp}/binary-${t.arch}/${name}`, ...hashes };
      files.push({ dir, name, bytes, entry });
    }
  });
  const entries = files.map((f) => f.entry).sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
  const date = new Date((config.sourceDateEpoch ?? Math.floor(Date.now() / 1000)) * 1000);
  const release = releaseText({
    ...common,
    date,
    validUntil: config.validUntilDays === undefined
      ? undefined
      : new Date(date.getTime() + config.validUntilDays * 86_400_000),
    architectures: suite.architectures,
    components: suite.components,
    description: suite.description ?? config.description,
  }, entries);
  const dists = `dists/${suite.name}`;
  const root = config.root;
  const fresh = holds(join(root, dists, "Release"), release) &&
    statFile(join(root, dists, "InRelease")) !== null &&
    statFile(join(root, dists, "Release.gpg")) !== null;
  const signatures = null as ReleaseSignatures | null;
  return { suite, dists, files, release, fresh, signatures };
}
