/**
 * APT repositories: kiln publishes signed Debian package repositories (`pool/`, `dists/`,
 * `Packages{,.gz,.xz}`, `Release`, `InRelease`, `Release.gpg`, `by-hash/`) that apt installs
 * from, for several suites, components and architectures, incrementally.
 *
 * @example
 * ```ts
 * import { publishAptRepository } from "./apt/mod.ts";
 * const result = await publishAptRepository({
 *   root: "dist/apt",
 *   stateDir: ".kiln/apt",
 *   origin: "kiln",
 *   suites: [{ name: "stable", codename: "kiln1", components: ["main"], architectures: ["amd64"] }],
 * }, key, { add: [{ deb: "dist/hello_1.0-1_amd64.deb", suite: "stable", component: "main" }] });
 * ```
 *
 * @module
 */

export { APT_ARCH_UNSUPPORTED, APT_POOL_CONFLICT, type AptAddition } from "./additions.ts";
export {
  APT_CONFIG_INVALID,
  type AptRepoConfig,
  type AptSuiteConfig,
  checkAptConfig,
  sourceDateEpoch,
} from "./config.ts";
export { APT_SIGNING_KEY_WEAK, checkAptSigningKey } from "./key_check.ts";
export { APT_POOL_MISMATCH } from "./pool_check.ts";
export { APT_DEB_INVALID, poolPath } from "./pool_file.ts";
export { APT_INDEX_UNREADABLE } from "./published.ts";
export {
  APT_PACKAGE_NOT_FOUND,
  type AptPublishRequest,
  type AptPublishResult,
  type AptRemoval,
  type AptSigner,
  publishAptRepository,
} from "./publish.ts";
export {
  type AptReleaseSigner,
  AptWorkerSigner,
  type ReleaseSignatures,
  type WorkerKeySource,
} from "./worker_signer.ts";
export { XZ_FAILED as APT_XZ_FAILED } from "./xz_blocks.ts";
