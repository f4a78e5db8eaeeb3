/**
 * Bringing new `.deb` files into the pool: each is read once (hashed and inspected from the same
 * bytes), checked against the suite it goes to, and copied to its pool path unless that path
 * already holds the same bytes (a file placed there by the caller is used where it is). A pool
 * path never changes content once written: a different file for the same package, version and
 * architecture is refused, since clients and mirrors cache pool files by path.
 *
 * @module
 */

import { dirname, join, resolve } from "../engine/path.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { tmpPath } from "../engine/durable.ts";
import { hashFile } from "../engine/hash.ts";
import { statFile } from "../engine/stat.ts";
import type { AptRepoConfig } from "./config.ts";
import { APT_CONFIG_INVALID } from "./config.ts";
import { APT_DEB_INVALID } from "./pool_file.ts";
import type { CachedDeb, IndexCache } from "./index_cache.ts";
import { cachedDeb, debIdentity, poolPath, readDebFactsMany, renderStanza } from "./pool_file.ts";

/** A `.deb` to publish in one component of one suite. */
export interface AptAddition {
  /** Path of the `.deb` (anywhere; it is copied into the pool). */
  readonly deb: string;
  readonly suite: string;
  readonly component: string;
}

/** The package's architecture is not one the suite publishes. */
export const APT_ARCH_UNSUPPORTED = "apt-arch-unsupported";
/** The pool already holds a different file at the package's pool path. */
export const APT_POOL_CONFLICT = "apt-pool-conflict";

/** An addition, placed in the pool. */
export interface PlacedDeb {
  readonly addition: AptAddition;
  readonly poolRel: string;
  readonly facts: CachedDeb;
  readonly stanza: string;
}

function samePath(a: string, b: string, cwd: string): boolean {
  if (resolve(a, cwd) === resolve(b, cwd)) return true;
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

/**
 * Reads every addition's `.deb`, checks it and puts it in the pool, recording its facts in
 * `cache`. Returns the placed files and how many files were read and hashed.
 */
export async function placeAdditions(
  config: AptRepoConfig,
  additions: readonly AptAddition[],
  cache: IndexCache,
): Promise<{ placed: PlacedDeb[]; hashed: number } | Failure> {
  for (const a of additions) {
    const suite = config.suites.find((s) => s.name === a.suite);
    if (!suite) {
      return failure(
        APT_CONFIG_INVALID,
        `Cannot add ${JSON.stringify(a.deb)}: no suite ${JSON.stringify(a.suite)} in the ` +
          `repository config; add it or pick one of ${config.suites.map((s) => s.name).join(", ")}`,
      );
    }
    if (!suite.components.includes(a.component)) {
      return failure(
        APT_CONFIG_INVALID,
        `Cannot add ${JSON.stringify(a.deb)}: suite ${JSON.stringify(a.suite)} has no component ` +
          `${JSON.stringify(a.component)}; add it to the suite's components`,
      );
    }
  }
  // Each file read once, however many suites it goes to. (The working directory asked once:
  // Deno.cwd() is a system call, and 1,000 additions resolve several paths each.)
  const cwd = Deno.cwd();
  const abs = (p: string) => resolve(p, cwd);
  const sources = [...new Map(additions.map((a) => [abs(a.deb), a.deb])).entries()];
  const read = await readDebFactsMany(sources.map(([path, name]) => ({ path, name })), {
    xzTool: config.xzTool,
    tmpDir: join(config.stateDir, "tmp"),
  });
  const facts = new Map(sources.map(([path], i) => [path, read[i]]));

  const placed: PlacedDeb[] = [];
  for (const a of additions) {
    const suite = config.suites.find((s) => s.name === a.suite)!;
    const src = abs(a.deb);
    const f = facts.get(src)!;
    if ("reason" in f) return f;
    const { pkg, arch } = debIdentity(f.fields);
    if (arch !== "all" && !suite.architectures.includes(arch)) {
      return failure(
        APT_ARCH_UNSUPPORTED,
        `Cannot add ${JSON.stringify(a.deb)}: it is for ${arch} but suite ` +
          `${JSON.stringify(a.suite)} publishes ${suite.architectures.join(", ")}; ` +
          `add ${JSON.stringify(arch)} to its architectures`,
      );
    }
    const poolRel = poolPath(a.component, f.fields);
    const dest = join(config.root, poolRel);
    // Already at its pool path (the caller put it there): as stat-ed when it was read.
    const at = abs(dest) === src;
    const there = at ? { sig: f.sig } : statFile(dest);
    const inPlace = there !== null && (at || samePath(src, dest, cwd));
    let sig = inPlace ? f.sig : there?.sig; // in place: as it was when read
    if (there && !inPlace) {
      const held = cache.get(poolRel, there.sig)?.sha256 ?? (await hashFile(dest)).digest;
      if (held !== f.sha256) {
        return failure(
          APT_POOL_CONFLICT,
          `Cannot add ${JSON.stringify(a.deb)}: ${JSON.stringify(poolRel)} already holds a ` +
            `different ${pkg} of that version; give the new build a new version`,
        );
      }
    } else if (!there) {
      Deno.mkdirSync(dirname(dest), { recursive: true });
      const tmp = tmpPath(dest);
      Deno.copyFileSync(src, tmp);
      if ((await hashFile(tmp)).digest !== f.sha256) { // the source changed since it was read
        Deno.removeSync(tmp);
        return failure(
          APT_DEB_INVALID,
          `${JSON.stringify(a.deb)} changed while it was being added; add it again`,
        );
      }
      Deno.renameSync(tmp, dest);
      sig = statFile(dest)?.sig;
    }
    if (!sig) throw new Error(`${dest} vanished after being written`);
    const entry = cachedDeb(f, sig);
    cache.set(poolRel, entry);
    placed.push({ addition: a, poolRel, facts: entry, stanza: renderStanza(poolRel, f) });
  }
  return { placed, hashed: sources.length };
}
