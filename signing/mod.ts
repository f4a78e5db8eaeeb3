/**
 * Release signing: reading the key and making the signatures APT repositories and release files
 * carry.
 *
 * @module
 */

export { readSigningKey, SIGNING_KEY_INVALID, type SigningKey } from "./key.ts";
export { clearsign, signDetached } from "./sign.ts";
