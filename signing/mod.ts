/**
 * Release signing: reading the key and making the signatures APT repositories and release files
 * carry.
 *
 * @module
 */

export { readSigningKey, SIGNING_KEY_INVALID, type SigningKey } from "./key.ts";
export { clearsign, signDetached } from "./sign.ts";
export { EXPIRY_WARNING_DAYS, expiryWarning } from "./expiry.ts";
export {
  type GeneratedKey,
  type GenerateKeyOptions,
  generateRepositoryKey,
  KEY_ALGORITHMS,
  KEY_FILE_EXISTS,
  type KeyAlgorithm,
  type KeyFiles,
  writeKeyFiles,
} from "./generate.ts";
export {
  type KeySourceOptions,
  type ResolvedSigningKey,
  resolveSigningKey,
  SIGNING_KEY_ENV,
  SIGNING_KEY_MISSING,
  THROWAWAY_KEY_PATH,
} from "./key_source.ts";
