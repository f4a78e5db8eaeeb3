/**
 * Reading one `.deb` for the index: its size, MD5, SHA-256 and SHA-512 (from bytes read once,
 * see `file_hashes.ts`) and its control fields, plus where it belongs in the pool
 * (`pool/<component>/<prefix>/<source>/<package>_<version>_<arch>.deb`, Debian's layout).
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";
import {
  type ControlMember,
  controlMember,
  ControlReader,
  fieldValue,
  readDebHead,
  type Stanza,
} from "../deb/inspect.ts";
import type { CachedDeb } from "./index_cache.ts";
import { hashBytes, hashFileStreaming } from "./file_hashes.ts";
import { type FileHashes, packageStanza } from "./stanza.ts";

/** A `.deb` that cannot be indexed: unreadable, not a `.deb`, or with unusable control fields. */
export const APT_DEB_INVALID = "apt-deb-invalid";

/** What the index needs of a pool file. */
export interface DebFacts extends FileHashes {
  readonly fields: Stanza;
  /** The file's stat signature taken before it was read (a later change shows as another). */
  readonly sig: string;
}

/** Files up to this size are read whole (one read serves hashing and the control member). */
const WHOLE_MAX = 64 * 1024 * 1024;

/** A `.deb` to read: its path and the name messages give it. */
export interface DebToRead {
  readonly path: string;
  readonly name: string;
}

/** Control members decoded per batch (bounds memory: members are kept, file bytes are not). */
const BATCH = 2000;

/**
 * Hashes and inspects many `.deb` files, reading each once: hashed from the bytes read, its
 * control member kept (the rest dropped), then all control members decoded together (see
 * `readControlMembers`). Results are in input order.
 */
export async function readDebFactsMany(
  debs: readonly DebToRead[],
  opts: { xzTool?: string; tmpDir?: string } = {},
): Promise<(DebFacts | Failure)[]> {
  const out: (DebFacts | Failure)[] = [];
  for (let start = 0; start < debs.length; start += BATCH) {
    const batch = debs.slice(start, start + BATCH);
    const read: (Failure | { hashes: FileHashes; sig: string })[] = [];
    const reader = new ControlReader(opts);
    for (const d of batch) {
      try {
        const st = statFile(d.path);
        if (!st) throw new Deno.errors.NotFound("no such file");
        const size = st.size;
        let member: ControlMember | Failure;
        let hashes: FileHashes;
        if (size <= WHOLE_MAX) {
          const bytes = Deno.readFileSync(d.path);
          hashes = hashBytes(bytes);
          member = controlMember(bytes, d.name);
        } else {
          hashes = await hashFileStreaming(d.path);
          const head = await readDebHead(d.path);
          member = "reason" in head ? head : controlMember(head, d.name);
        }
        if ("reason" in member) read.push(invalid(member));
        else {
          reader.add(member);
          read.push({ hashes, sig: st.sig });
        }
      } catch (e) {
        read.push(failure(
          APT_DEB_INVALID,
          `Cannot read ${JSON.stringify(d.name)}: ${e instanceof Error ? e.message : e}`,
        ));
      }
    }
    const controls = await reader.finish();
    let k = 0;
    for (const [i, r] of read.entries()) {
      if ("reason" in r) {
        out.push(r);
        continue;
      }
      const control = controls[k++];
      if ("reason" in control) {
        out.push(invalid(control));
        continue;
      }
      out.push(
        checkFields(control.fields, batch[i].name) ??
          { ...r.hashes, fields: control.fields, sig: r.sig },
      );
    }
  }
  return out;
}

/** Hashes and inspects the `.deb` at `path` (see {@link readDebFactsMany}). */
export async function readDebFacts(path: string, name: string): Promise<DebFacts | Failure> {
  return (await readDebFactsMany([{ path, name }]))[0];
}

function invalid(f: Failure): Failure {
  return failure(APT_DEB_INVALID, f.message);
}

const PACKAGE = /^[a-z0-9][a-z0-9.+-]+$/;
const VERSION = /^([0-9]+:)?[0-9A-Za-z.+~-]+$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;

function checkFields(fields: Stanza, name: string): Failure | null {
  const pkg = fieldValue(fields, "Package");
  const version = fieldValue(fields, "Version");
  const arch = fieldValue(fields, "Architecture");
  const bad = (what: string) =>
    failure(APT_DEB_INVALID, `${JSON.stringify(name)}: ${what}; rebuild the package`);
  if (!pkg || !PACKAGE.test(pkg)) return bad(`control field Package ${q(pkg)} is not valid`);
  if (!version || !VERSION.test(version)) {
    return bad(`control field Version ${q(version)} is not valid`);
  }
  if (!arch || !ARCH.test(arch)) return bad(`control field Architecture ${q(arch)} is not valid`);
  return null;
}

function q(v: string | undefined): string {
  return v === undefined ? "(missing)" : JSON.stringify(v);
}

/** Package, version and architecture of checked control fields. */
export function debIdentity(fields: Stanza): { pkg: string; version: string; arch: string } {
  return {
    pkg: fieldValue(fields, "Package")!,
    version: fieldValue(fields, "Version")!,
    arch: fieldValue(fields, "Architecture")!,
  };
}

/**
 * The pool path (relative to the repository root) of a package in `component`:
 * `pool/main/libf/libfoo/libfoo1_1.0-1_amd64.deb`. The folder is the source package's name
 * (`Source:` without its version, else the package's), under its first letter, or `lib` and the
 * next letter for `lib*` sources; the file name has no epoch.
 *
 * @example
 * ```ts
 * poolPath("main", [["Package", "hello"], ["Version", "1:2.0"], ["Architecture", "all"]]);
 * // "pool/main/h/hello/hello_2.0_all.deb"
 * ```
 */
export function poolPath(component: string, fields: Stanza): string {
  const { pkg, version, arch } = debIdentity(fields);
  const named = (fieldValue(fields, "Source") ?? pkg).split(/\s/)[0];
  const source = PACKAGE.test(named) ? named : pkg; // never a path from a field
  const prefix = source.startsWith("lib") && source.length > 3 ? source.slice(0, 4) : source[0];
  const bare = version.replace(/^[0-9]+:/, "");
  return `pool/${component}/${prefix}/${source}/${pkg}_${bare}_${arch}.deb`;
}

/** The cache record of a pool file whose stat signature is `sig`. */
export function cachedDeb(facts: DebFacts, sig: string): CachedDeb {
  return { sig, size: facts.size, sha256: facts.sha256, ...debIdentity(facts.fields) };
}

/** A pool file's `Packages` stanza. */
export function renderStanza(poolRel: string, facts: DebFacts): string {
  const { fields, sig: _sig, ...hashes } = facts;
  return packageStanza(fields, poolRel, hashes);
}
