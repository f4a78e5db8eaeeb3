/**
 * The OS-image pipeline's ISO stage: the catalog of distros, checksum files, OpenPGP signatures and
 * the verification of a fetched ISO. Re-exports only, one line per module.
 *
 * @module
 */

export {
  type Catalog,
  type CatalogSignature,
  DEFAULT_CATALOG,
  type DistroEntry,
  findDistro,
  loadCatalog,
  missingPackerTemplates,
  parseCatalog,
  type ResolvedDistro,
  resolveDistro,
  type ResolveOptions,
} from "./catalog.ts";
export {
  type ChecksumAlgorithm,
  type ChecksumEntry,
  type ChecksumFormat,
  findChecksum,
  parseChecksums,
} from "./checksums.ts";
export {
  type KeyMaterial,
  normalizeFingerprint,
  type PinnedKeys,
  readPinnedKeys,
  type SignedText,
  type Signer,
  verifyClearsigned,
  verifyDetached,
} from "./signature.ts";
export {
  type FetchedIsoFiles,
  type SignatureInput,
  type VerifiedIso,
  verifyDistroIso,
  verifyIso,
  type VerifyIsoInput,
} from "./verify.ts";
