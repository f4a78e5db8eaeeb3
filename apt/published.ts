/**
 * What a repository publishes now, read back from its own `Packages` files: which pool files
 * each suite and component lists, with the size and SHA-256 clients were told, and each stanza's
 * text. The published indexes are the record of membership (kiln's state folder is only a
 * cache), so a repository survives a lost cache, and a pool file that no longer matches what was
 * published is caught. A `Packages` file kiln wrote and nobody touched since (same stat signature
 * as the cache recorded) is "trusted": its stanzas are reused instead of rendered again.
 *
 * @module
 */

import { join } from "../engine/path.ts";
import { type Failure, failure } from "../engine/failure.ts";
import { statFile } from "../engine/stat.ts";
import type { AptSuiteConfig } from "./config.ts";
import type { IndexCache } from "./index_cache.ts";

/** A published index cannot be read back. */
export const APT_INDEX_UNREADABLE = "apt-index-unreadable";

/** One listed pool file as an index lists it. */
export interface PublishedFile {
  readonly size: number;
  readonly sha256: string;
  readonly pkg: string;
  readonly arch: string;
  /** The index that lists it (for messages). */
  readonly index: string;
  /** Its stanza (newline-terminated), when the index is one kiln wrote and nobody changed. */
  readonly stanza: string | null;
}

/** Pool path → what was published, for one component of one suite. */
export type ComponentFiles = Map<string, PublishedFile>;

/** A suite's published indexes: component → files, and the `Packages` texts read. */
export interface PublishedSuite {
  readonly components: Map<string, ComponentFiles>;
  /** `Packages` path (relative to the root) → its bytes as read. */
  readonly texts: Map<string, Uint8Array>;
}

/** `dists/<suite>/<component>/binary-<arch>`, relative to the repository root. */
export function indexDir(suite: string, component: string, arch: string): string {
  return `dists/${suite}/${component}/binary-${arch}`;
}

/** The value of `name` in a stanza, found without splitting it into fields. */
function field(stanza: string, name: string): string | undefined {
  let at: number;
  if (stanza.startsWith(name + ":")) at = 0;
  else {
    const i = stanza.indexOf("\n" + name + ":");
    if (i >= 0) at = i + 1;
    else {
      const m = new RegExp(`^${name}:`, "im").exec(stanza); // another letter case
      if (!m) return undefined;
      at = m.index;
    }
  }
  const end = stanza.indexOf("\n", at);
  return stanza.slice(at + name.length + 1, end < 0 ? undefined : end).trim();
}

/** The pool files a `Packages` text lists, by pool path. */
export function parsePackages(
  text: string,
  index: string,
  trusted: boolean,
): Map<string, PublishedFile> | Failure {
  const out = new Map<string, PublishedFile>();
  const broken = (why: string) =>
    failure(
      APT_INDEX_UNREADABLE,
      `Published index ${JSON.stringify(index)} ${why}; restore it from a backup or delete the ` +
        `suite's dists folder and add its packages again`,
    );
  for (const part of text.split(/\n[ \t]*\n/)) {
    if (!part.trim()) continue;
    const filename = field(part, "Filename") ?? "";
    if (!filename.startsWith("pool/") || filename.split("/").includes("..")) {
      return broken(`lists a file outside pool/: ${JSON.stringify(filename)}`);
    }
    const size = Number(field(part, "Size"));
    const sha256 = field(part, "SHA256");
    const pkg = field(part, "Package");
    const arch = field(part, "Architecture");
    if (!Number.isSafeInteger(size) || !sha256 || !pkg || !arch) {
      return broken(`lacks Package, Architecture, Size or SHA256 for ${JSON.stringify(filename)}`);
    }
    if (!out.has(filename)) {
      const stanza = trusted ? part.replace(/^\n+/, "") + "\n" : null;
      out.set(filename, { size, sha256, pkg, arch, index, stanza });
    }
  }
  return out;
}

/**
 * Reads the published `Packages` files of `suite` (every configured component and architecture;
 * a missing one counts as empty).
 */
export function readPublished(
  root: string,
  suite: AptSuiteConfig,
  cache: IndexCache,
): PublishedSuite | Failure {
  const components = new Map<string, ComponentFiles>();
  const texts = new Map<string, Uint8Array>();
  const decoder = new TextDecoder();
  for (const component of suite.components) {
    const files: ComponentFiles = new Map();
    for (const arch of suite.architectures) {
      const index = `${indexDir(suite.name, component, arch)}/Packages`;
      const st = statFile(join(root, index));
      if (!st) continue;
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(join(root, index));
      } catch (e) {
        return failure(APT_INDEX_UNREADABLE, `Cannot read ${JSON.stringify(index)}: ${e}`);
      }
      texts.set(index, bytes);
      const parsed = parsePackages(decoder.decode(bytes), index, cache.wroteIndex(index, st.sig));
      if ("reason" in parsed) return parsed;
      for (const [rel, f] of parsed) if (!files.has(rel)) files.set(rel, f);
    }
    components.set(component, files);
  }
  return { components, texts };
}
