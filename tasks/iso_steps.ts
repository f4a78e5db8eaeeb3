/**
 * The ISO half of the OS-image pipeline, per distro: fetch (the checksum file, its signature, the
 * signing keys, and the ISO into the shared content-addressed ISO cache), then verify (the
 * signature against the pinned fingerprints, the ISO against the signed checksum).
 *
 * The ISO itself is never a workspace output: it lives once in the ISO cache
 * (`~/.cache/kiln/isos`), and the steps pass its digest along (`fetched.json`, `verified.json`),
 * so a multi-GB file is neither copied into kiln's store nor into the workspace.
 *
 * Fetch authenticates the checksum file (signature by a pinned key) before it downloads the ISO,
 * by the digest that file lists: the cache is looked up by a trusted digest, and a bad upstream
 * fails fetch, which caches nothing, so the next build fetches again. Verify then checks the ISO
 * itself: it hashes the file packer will get and compares it with the signed checksum.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { join } from "../engine/path.ts";
import { fn, type Task, type TaskContext } from "../engine/task.ts";
import { type DistroEntry, type ResolvedDistro, resolveDistro } from "../iso/catalog.ts";
import { type CachedIso, isoBlobPath, isoCacheDir } from "../iso/iso_cache.ts";
import { DEMO_FINGERPRINT, DEMO_MIRROR } from "./demo_source.ts";

/** What fetch hands to verify: the ISO as downloaded (digest computed while streaming). */
export interface FetchedRecord {
  readonly iso: string;
  readonly sha256: string;
  readonly size: number;
  /** Files in the fetched folder: the checksum file, the signature, the key files. */
  readonly checksum: string;
  readonly signature: string | null;
  readonly keys: readonly string[];
}

/** What verify hands to the image steps. */
export interface VerifiedRecord {
  readonly iso: string;
  readonly sha256: string;
  /** Fingerprint of the pinned key that signed the checksum file; null for an unsigned distro. */
  readonly signer: string | null;
}

/** The folder of a distro's fetched files. */
export function fetchedDir(id: string): string {
  return `build/iso/${id}/fetched`;
}

/** The ISO with digest `sha256` in the ISO cache, or null when it is not there. */
export function isoCachePath(sha256: string): string | null {
  const p = isoBlobPath(isoCacheDir(), sha256);
  try {
    return Deno.statSync(p).isFile ? p : null;
  } catch {
    return null;
  }
}

/** The demo's run-time pin: the throwaway key's fingerprint, as `demo:key` wrote it. */
async function demoPins(path: string): Promise<Record<string, string[]>> {
  return { "demo-key": [(await Deno.readTextFile(path)).trim()] };
}

/**
 * Downloads the ISO with digest `sha256` into the ISO cache from the distro's URLs (a hit when
 * it is there), with a progress line on a terminal and one in the log every 5 s.
 */
async function downloadIso(
  ctx: TaskContext,
  distro: ResolvedDistro,
  sha256: string | undefined,
): Promise<CachedIso | Failure> {
  const { ensureIso } = await import("../iso/iso_cache.ts");
  const { formatProgressLine, RateMeter } = await import("../iso/progress.ts");
  const meter = new RateMeter();
  let logged = -Infinity;
  return await ensureIso({
    name: distro.iso.file,
    urls: distro.iso.urls,
    sha256,
    signal: ctx.signal,
    onWait: ctx.log,
    fetch: {
      log: ctx.log,
      onProgress: (p) => {
        const now = performance.now();
        meter.add(now, p.received);
        const line = formatProgressLine({
          label: distro.iso.file,
          received: p.received,
          total: p.total,
          rate: meter.rate(),
        });
        ctx.progress(line);
        if (now - logged >= 5000) {
          logged = now;
          ctx.log(line);
        }
      },
    },
  });
}

/**
 * The ISO with digest `sha256` for a step after fetch, downloaded again when the ISO cache no
 * longer has it: fetch's record may have come from a shared cache, made on another machine, or
 * the ISO cache may have been cleaned. The digest was authenticated when it was first fetched
 * (the signed checksum file), and the download must match it, so nothing is trusted anew.
 */
export async function isoForStep(
  ctx: TaskContext,
  d: DistroEntry,
  sha256: string,
): Promise<string | Failure> {
  const cached = isoCachePath(sha256);
  if (cached) return cached;
  const demo = d.id === "demo";
  const { serveMirror } = await import("../iso/demo/mirror.ts");
  const mirror = demo ? serveMirror(ctx.path(DEMO_MIRROR)) : null;
  try {
    const distro = resolveDistro(
      d,
      demo
        ? { vars: { port: String(mirror!.port) }, pins: await demoPins(ctx.path(DEMO_FINGERPRINT)) }
        : {},
    );
    ctx.log(`${d.iso.file} is not in the ISO cache: fetching it again by its sha256`);
    const iso = await downloadIso(ctx, distro, sha256);
    if ("reason" in iso) return iso;
    return isoCachePath(sha256) ??
      failure("iso-missing", `ISO "${d.iso.file}" vanished from the ISO cache; build again`);
  } finally {
    await mirror?.close();
  }
}

/** The fetch step of distro `d`. */
export function fetchTask(d: DistroEntry): Task {
  const demo = d.id === "demo";
  const dir = fetchedDir(d.id);
  return {
    id: `iso:${d.id}:fetch`,
    description: `Fetch the ${d.name} ISO, its checksums, signature and keys`,
    deps: demo ? ["demo:sums", "demo:key"] : [],
    // The URLs as the catalog has them (the demo's port is filled in at run time).
    params: {
      iso: { file: d.iso.file, urls: [...d.iso.urls] },
      checksum: [...d.checksum.urls],
      signature: d.signature.kind === "detached" ? [...d.signature.urls] : d.signature.kind,
      keys: [...d.keys.urls],
      v: 1,
    },
    outputs: [dir],
    action: fn(import.meta.url, async (ctx) => {
      // Loaded here, not when the pipeline is defined: openpgp alone takes 100 ms.
      const { serveMirror } = await import("../iso/demo/mirror.ts");
      const { fetchFile } = await import("../iso/fetch.ts");
      const { trustedDistroChecksum } = await import("../iso/verify.ts");
      const mirror = demo ? serveMirror(ctx.path(DEMO_MIRROR)) : null;
      try {
        const distro = resolveDistro(
          d,
          demo
            ? {
              vars: { port: String(mirror!.port) },
              pins: await demoPins(ctx.path(DEMO_FINGERPRINT)),
            }
            : {},
        );
        const out = ctx.path(dir);
        await Deno.mkdir(out, { recursive: true });
        const small = (urls: readonly string[], name: string) =>
          fetchFile({ urls, dest: join(out, name), signal: ctx.signal, log: ctx.log, retries: 2 });
        const sums = await small(distro.checksum.urls, distro.checksum.file);
        if ("reason" in sums) return sums;
        let signature: string | null = null;
        if (distro.signature.kind === "detached") {
          signature = distro.signature.urls[0].split("/").pop()!;
          const s = await small(distro.signature.urls, signature);
          if ("reason" in s) return s;
        }
        const keys: string[] = [];
        let lastKeyFailure = null;
        for (const [i, url] of distro.keys.urls.entries()) {
          const k = await small([url], `key-${i}`);
          if ("reason" in k) lastKeyFailure = k;
          else {
            keys.push(`key-${i}`);
            break; // alternatives: the first that can be fetched provides the key material
          }
        }
        if (distro.keys.urls.length > 0 && keys.length === 0) return lastKeyFailure!;
        // Authenticate the checksum file before anything is downloaded on its word: a bad or
        // unpinned signature, or a checksum file without the ISO, fails here and caches nothing.
        const read = (name: string) => Deno.readFile(join(out, name));
        const trusted = await trustedDistroChecksum(distro, {
          checksum: await read(distro.checksum.file),
          signature: signature ? await read(signature) : undefined,
          keys: await Promise.all(keys.map(async (k) => ({ name: k, data: await read(k) }))),
        });
        if ("reason" in trusted) return trusted;
        const iso = await downloadIso(ctx, distro, trusted.sha256);
        if ("reason" in iso) return iso;
        ctx.log(
          iso.downloadedFrom
            ? `fetched ${distro.iso.file} from ${iso.downloadedFrom}`
            : `${distro.iso.file} is in the ISO cache`,
        );
        const record: FetchedRecord = {
          iso: distro.iso.file,
          sha256: iso.sha256,
          size: iso.size,
          checksum: distro.checksum.file,
          signature,
          keys,
        };
        await Deno.writeTextFile(join(out, "fetched.json"), JSON.stringify(record, null, 2) + "\n");
      } finally {
        await mirror?.close();
      }
    }),
  };
}

/** The verify step of distro `d`: fails closed, caches nothing on any doubt. */
export function verifyTask(d: DistroEntry): Task {
  const demo = d.id === "demo";
  const dir = fetchedDir(d.id);
  return {
    id: `iso:${d.id}:verify`,
    description: `Verify the ${d.name} ISO against its signed checksums`,
    deps: [`iso:${d.id}:fetch`, ...(demo ? ["demo:key"] : [])],
    params: {
      file: d.iso.file,
      checksum: { format: d.checksum.format, clearsigned: d.checksum.clearsigned },
      signature: d.signature.kind,
      pinned: [...d.keys.fingerprints],
      v: 1,
    },
    outputs: [`build/iso/${d.id}/verified.json`],
    action: fn(import.meta.url, async (ctx) => {
      const { verifyDistroIso } = await import("../iso/verify.ts");
      const f: FetchedRecord = JSON.parse(
        await Deno.readTextFile(ctx.path(`${dir}/fetched.json`)),
      );
      // URLs play no part in verifying; the demo's {port} gets a stand-in.
      const distro = resolveDistro(
        d,
        demo ? { vars: { port: "1" }, pins: await demoPins(ctx.path(DEMO_FINGERPRINT)) } : {},
      );
      const read = (name: string) => Deno.readFile(ctx.path(`${dir}/${name}`));
      const iso = await isoForStep(ctx, d, f.sha256);
      if (typeof iso !== "string") return iso;
      const v = await verifyDistroIso(distro, {
        isoPath: iso, // hashed again: the file packer gets is the one that is checked
        checksum: await read(f.checksum),
        signature: f.signature ? await read(f.signature) : undefined,
        keys: await Promise.all(f.keys.map(async (k) => ({ name: k, data: await read(k) }))),
      });
      if ("reason" in v) return v;
      if (!v.sha256) {
        return failure("iso-checksum-missing", `No SHA-256 of "${f.iso}" to hand to packer`);
      }
      const record: VerifiedRecord = { iso: f.iso, sha256: v.sha256, signer: v.signer };
      ctx.log(`verified ${f.iso} sha256:${v.sha256}${v.signer ? ` signed by ${v.signer}` : ""}`);
      await Deno.writeTextFile(
        ctx.path(`build/iso/${d.id}/verified.json`),
        JSON.stringify(record, null, 2) + "\n",
      );
    }),
  };
}
