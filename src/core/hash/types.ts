/**
 * Branded hash strings, so that a file hash can never be passed where a fingerprint is
 * expected (and vice versa).
 */

/** Name of an object in the store: xxh64 of a file's bytes (16 hex digits), or of a folder's
 * manifest with a `.dir` suffix. */
export type ObjectHash = string & { readonly __brand: 'ObjectHash' };

/** xxh64 of a stage instance's canonical fingerprint record. */
export type Fingerprint = string & { readonly __brand: 'Fingerprint' };

export const asObjectHash = (s: string): ObjectHash => s as ObjectHash;
export const asFingerprint = (s: string): Fingerprint => s as Fingerprint;

export const isTreeHash = (h: ObjectHash): boolean => h.endsWith('.dir');

const OBJECT_RE = /^[0-9a-f]{16}(\.dir)?$/;
export const isObjectHash = (s: string): s is ObjectHash => OBJECT_RE.test(s);
