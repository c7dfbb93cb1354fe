import { Errors, TrainyardError } from '@trainyard/core';

/**
 * The object store seam: a flat namespace of immutable-ish objects by key. Every driver
 * (fs now, S3 later) passes the same conformance suite (object-store.conformance.ts).
 * A `put` is atomic: readers see the whole object or none of it.
 */
export interface ObjectStore {
  /** e.g. `fs:/var/lib/trainyard/objects`. */
  readonly location: string;
  put(key: string, data: Uint8Array): Promise<void>;
  /** Throws TRAINYARD_ERR_STORAGE_NOT_FOUND when absent. */
  get(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix ending in '/', sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Keys are '/'-separated segments of letters, digits, '_', '.', '-' (no '..', no empty or
 * leading-dot segments, no absolute paths), so a key can never leave the store's root.
 */
export function validateKey(key: string): string {
  const bad = (why: string) =>
    new TrainyardError(Errors.STORAGE_KEY_INVALID, `object key ${JSON.stringify(key)} ${why}`);
  if (typeof key !== 'string' || key.length === 0) throw bad('is empty');
  if (key.length > 1024) throw bad('is longer than 1024 characters');
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment)) throw bad(`has an invalid segment ${JSON.stringify(segment)}`);
  }
  return key;
}

export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  if (!prefix.endsWith('/')) {
    throw new TrainyardError(
      Errors.STORAGE_KEY_INVALID,
      `prefix ${JSON.stringify(prefix)} must end with '/'`,
    );
  }
  validateKey(prefix.slice(0, -1));
  return prefix;
}
