/**
 * The demo distro's "upstream": what a real distro publishes, made on this machine so that the
 * whole OS-image pipeline runs offline (`deno task build:demo`). A busybox initramfs and the
 * host's Debian kernel make an installer ISO (see `iso/demo/`); a throwaway OpenPGP key signs its
 * `SHA256SUMS`; the mirror folder then holds what the catalog's `demo` entry points at, and the
 * fetch step serves it on loopback.
 *
 * The throwaway key is an output like any other: it is made once and then restored from the
 * cache, so the fingerprint the demo pins stays put. Real signing keys never go through the cache.
 *
 * @module
 */

import { failure } from "../engine/failure.ts";
import { hashFile } from "../engine/hash.ts";
import { fn, type Task } from "../engine/task.ts";
import { findHostKernel } from "../iso/demo/initramfs.ts";

/** Where the demo's sources are built. */
export const DEMO_DIR = "build/demo";
/** The folder the loopback mirror serves. */
export const DEMO_MIRROR = `${DEMO_DIR}/mirror`;
/** The demo's installer ISO, as the catalog names it. */
export const DEMO_ISO = "kiln-demo-x86_64.iso";
/** The public half of the throwaway key, published beside the ISO. */
export const DEMO_PUBLIC_KEY = "demo-signing-key.asc";
/** The fingerprint the demo pins (40 hex digits), for the fetch and verify steps. */
export const DEMO_FINGERPRINT = `${DEMO_DIR}/key/fingerprint.txt`;
/** What the demo installer writes and validate reads back. */
export const DEMO_MARKER = "kiln-demo-1";

const INITRD = `${DEMO_DIR}/initrd.gz`;
const PRIVATE_KEY = `${DEMO_DIR}/key/private.asc`;

/**
 * The host kernel the demo boots, as a task parameter (its path and size: a kernel upgrade makes a
 * new demo ISO), and the files to record for the build stamp.
 */
export function demoKernelParams(): { params: { kernel: string }; files: string[] } {
  const k = findHostKernel();
  if ("reason" in k) return { params: { kernel: "missing" }, files: [] };
  const size = Deno.statSync(k.path).size;
  return { params: { kernel: `${k.path}:${size}` }, files: [k.path] };
}

/** The tasks that make the demo's ISO, key and signed checksums. */
export function demoSourceTasks(kernel: { kernel: string }): Task[] {
  return [
    {
      id: "demo:initramfs",
      description: "Busybox initramfs whose /init installs the demo (or reads it back)",
      inputs: ["iso/demo/init.sh"],
      params: { ...kernel, v: 1 },
      tools: [{ name: "busybox", args: [] }, { name: "cpio" }],
      outputs: [INITRD],
      action: fn(import.meta.url, async (ctx) => {
        const { buildDemoInitramfs } = await import("../iso/demo/initramfs.ts");
        const r = await buildDemoInitramfs(ctx.path(INITRD), {
          initScript: ctx.path("iso/demo/init.sh"),
          signal: ctx.signal,
        });
        if ("reason" in r) return r;
        ctx.log(`initramfs ${r.sha256} with ${r.modules.length} modules`);
      }),
    },
    {
      id: "demo:iso",
      description: "The demo installer ISO (isolinux, serial console)",
      deps: ["demo:initramfs"],
      params: { ...kernel, marker: DEMO_MARKER, v: 1 },
      tools: [{ name: "xorriso", args: ["-version"] }],
      outputs: [`${DEMO_MIRROR}/${DEMO_ISO}`],
      action: fn(import.meta.url, async (ctx) => {
        const { buildDemoIso } = await import("../iso/demo/demo_iso.ts");
        const r = await buildDemoIso(ctx.path(`${DEMO_MIRROR}/${DEMO_ISO}`), {
          marker: DEMO_MARKER,
          initramfs: ctx.path(INITRD),
          signal: ctx.signal,
        });
        if ("reason" in r) return r;
        ctx.log(`${DEMO_ISO} sha256:${r.sha256}`);
      }),
    },
    {
      id: "demo:key",
      description: "Throwaway OpenPGP key that signs the demo's checksums",
      params: { algorithm: "ed25519", v: 1 },
      outputs: [PRIVATE_KEY, DEMO_FINGERPRINT, `${DEMO_MIRROR}/${DEMO_PUBLIC_KEY}`],
      action: fn(import.meta.url, async (ctx) => {
        const openpgp = await import("openpgp"); // 100 ms to load: only when a key is made
        const { privateKey, publicKey } = await openpgp.generateKey({
          type: "curve25519",
          userIDs: [{ name: "kiln demo signing key (throwaway)" }],
          format: "armored",
        });
        const key = await openpgp.readKey({ armoredKey: publicKey });
        const fingerprint = key.getFingerprint().toUpperCase();
        await Deno.mkdir(ctx.path(`${DEMO_DIR}/key`), { recursive: true });
        await Deno.writeTextFile(ctx.path(PRIVATE_KEY), privateKey, { mode: 0o600 });
        await Deno.writeTextFile(ctx.path(DEMO_FINGERPRINT), fingerprint + "\n");
        await Deno.mkdir(ctx.path(DEMO_MIRROR), { recursive: true });
        await Deno.writeTextFile(ctx.path(`${DEMO_MIRROR}/${DEMO_PUBLIC_KEY}`), publicKey);
        ctx.log(`demo key ${fingerprint}`);
      }),
    },
    {
      id: "demo:sums",
      description: "The demo mirror's SHA256SUMS and its detached signature",
      deps: ["demo:iso", "demo:key"],
      outputs: [`${DEMO_MIRROR}/SHA256SUMS`, `${DEMO_MIRROR}/SHA256SUMS.gpg`],
      action: fn(import.meta.url, async (ctx) => {
        const { digest } = await hashFile(ctx.path(`${DEMO_MIRROR}/${DEMO_ISO}`));
        const sums = `${digest} *${DEMO_ISO}\n`;
        const openpgp = await import("openpgp");
        const signingKey = await openpgp.readPrivateKey({
          armoredKey: await Deno.readTextFile(ctx.path(PRIVATE_KEY)),
        });
        const signature = await openpgp.sign({
          message: await openpgp.createMessage({ binary: new TextEncoder().encode(sums) }),
          signingKeys: signingKey,
          detached: true,
          format: "binary",
        });
        if (!(signature instanceof Uint8Array)) {
          return failure("demo-sign-failed", "Signing the demo's SHA256SUMS gave no bytes");
        }
        await Deno.writeTextFile(ctx.path(`${DEMO_MIRROR}/SHA256SUMS`), sums);
        await Deno.writeFile(ctx.path(`${DEMO_MIRROR}/SHA256SUMS.gpg`), signature);
        ctx.log(sums.trimEnd());
      }),
    },
  ];
}
