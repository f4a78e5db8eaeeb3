/**
 * The schema of `iso/catalog.yaml`: what an entry may hold, and the checks between its fields
 * (an ISO URL names the ISO file, mirrors serve the same file, a signed distro pins a key, only
 * a loopback mirror may be plain http). Kept apart from `catalog.ts` so that the rules of an
 * entry read in one place, apart from loading, error wording and run-time resolution.
 *
 * @module
 */

import { z } from "zod";
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_FORMATS,
  type ChecksumAlgorithm,
  type ChecksumFormat,
} from "./checksums.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const PLACEHOLDER = /\{([a-z_]+)\}/g;

/** A full OpenPGP fingerprint: v4 (40 hex) or v6 (64 hex), uppercase, no spaces. */
export const FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;

/** `url` with each `{name}` placeholder replaced by `vars(name)`. */
export function fill(url: string, vars: (name: string) => string): string {
  return url.replace(PLACEHOLDER, (_, name: string) => vars(name));
}

/** The last path segment a URL names (placeholders filled with a dummy), or null. */
export function lastSegment(url: string): string | null {
  try {
    return decodeURIComponent(new URL(fill(url, () => "1")).pathname.split("/").pop() ?? "") ||
      null;
  } catch {
    return null;
  }
}

const url = z.string().superRefine((u, ctx) => {
  const filled = fill(u, () => "1");
  let parsed: URL | undefined;
  try {
    parsed = /[{}\s]/.test(filled) ? undefined : new URL(filled);
  } catch { /* reported below */ }
  if (!parsed) {
    ctx.addIssue({
      code: "custom",
      message: `expected a URL, got ${
        JSON.stringify(u)
      }; write https://host/path (placeholders as {name})`,
    });
  } else if (
    parsed.protocol !== "https:" && !(parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname))
  ) {
    ctx.addIssue({
      code: "custom",
      message: `${
        JSON.stringify(u)
      } is not https; use https (plain http is only for a loopback mirror)`,
    });
  }
});
const urls = z.array(url);
const fingerprint = z.string().regex(FINGERPRINT, {
  message: "expected a full key fingerprint (40 hex digits in capitals, no spaces)" +
    "|copy it from the distro's security page and quote it",
});
const text = z.string().trim().min(1, { message: "expected some text, got an empty string" });

/** `signature:` of an entry, one shape per `kind`. */
export const signatureSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("detached"),
    urls: urls.min(1, { message: "expected at least one signature URL" }),
    encoding: z.enum(["armored", "binary"]),
  }).strict(),
  z.object({ kind: z.literal("clearsign") }).strict(),
  z.object({ kind: z.literal("none"), reason: text }).strict(),
]);

/** One distro of `distros:`, with the checks between its fields. */
export const entrySchema = z.object({
  name: text,
  version: text,
  arch: z.enum(["x86_64", "aarch64"]),
  iso: z.object({
    file: z.string().regex(/^[A-Za-z0-9._+-]+$/, {
      message: "expected a plain file name (letters, digits, . _ + -)|write the name only",
    }),
    urls: urls.min(1, { message: "expected at least one ISO URL" }),
  }).strict(),
  checksum: z.object({
    urls: urls.min(1, { message: "expected at least one checksum file URL" }),
    format: z.enum(CHECKSUM_FORMATS as [ChecksumFormat, ...ChecksumFormat[]]),
    clearsigned: z.boolean(),
    algorithm: z.enum(CHECKSUM_ALGORITHMS as [ChecksumAlgorithm, ...ChecksumAlgorithm[]])
      .default("sha256"),
  }).strict(),
  signature: signatureSchema,
  keys: z.object({
    urls: urls,
    fingerprints: z.array(fingerprint),
    fingerprints_from: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
      message: "expected a name in lowercase letters, digits and -|e.g. demo-key",
    }).optional(),
  }).strict(),
  packer: z.string().regex(/^packer\/[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: "expected the template folder as packer/<name>|e.g. packer/fedora",
  }),
  boot_marker: z.string().min(1).superRefine((re, ctx) => {
    try {
      new RegExp(re);
    } catch (e) {
      ctx.addIssue({
        code: "custom",
        message: `is not a valid regex (${(e as Error).message}); fix it or quote it with ''`,
      });
    }
  }),
  notes: z.string().optional(),
}).strict().superRefine((e, ctx) => {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  for (const [i, u] of e.iso.urls.entries()) {
    const seg = lastSegment(u);
    if (seg !== null && seg !== e.iso.file) {
      issue(
        ["iso", "urls", i],
        `names "${seg}", not the ISO file "${e.iso.file}"; fix one of them`,
      );
    }
  }
  const sameFile = (list: readonly string[], path: string[]) => {
    const first = lastSegment(list[0]);
    for (const [i, u] of list.entries()) {
      if (lastSegment(u) !== first) {
        issue(
          [...path, i],
          `names "${lastSegment(u)}" but ${
            path.join(".")
          }[0] names "${first}"; mirrors must serve the same file`,
        );
      }
    }
  };
  sameFile(e.checksum.urls, ["checksum", "urls"]);
  if (e.signature.kind === "detached") sameFile(e.signature.urls, ["signature", "urls"]);
  const clear = e.signature.kind === "clearsign";
  if (e.checksum.clearsigned !== clear) {
    issue(
      ["checksum", "clearsigned"],
      `is ${e.checksum.clearsigned} but signature.kind is ${e.signature.kind}; write clearsigned: ${clear}`,
    );
  }
  const pinned = e.keys.fingerprints.length > 0 || e.keys.fingerprints_from !== undefined;
  if (e.signature.kind === "none") {
    if (pinned || e.keys.urls.length > 0) {
      issue(["keys"], "pins keys but signature.kind is none; empty keys, or declare the signature");
    }
    const plain = [...e.iso.urls, ...e.checksum.urls].find((u) => !u.startsWith("https://"));
    if (plain) {
      issue(
        ["signature", "kind"],
        `is none, so every URL must be https, but ${JSON.stringify(plain)} is not`,
      );
    }
  } else {
    if (!pinned) {
      issue(["keys", "fingerprints"], "pins no key; add the signing key's full fingerprint");
    }
    if (e.keys.urls.length === 0) {
      issue(["keys", "urls"], "expected at least one URL to fetch the signing key from");
    }
  }
});

/** The whole file: `distros:` by id. */
export const catalogSchema = z.object({
  distros: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
      message: "expected a distro id in lowercase letters, digits and -|e.g. centos-stream",
    }),
    entrySchema,
  ),
}).strict();
