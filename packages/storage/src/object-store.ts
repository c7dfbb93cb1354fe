import { Errors, TrainyardError } from '@trainyard/core';

/**
 * The object store seam: a flat namespace of immutable-ish objects by key. Every driver
 * (fs, S3) passes the same conformance suite (object-store.conformance.ts).
 * A `put` is atomic: readers see the whole object or none of it.
 */
export interface ObjectStore {
  /** e.g. `fs:/var/lib/trainyard/objects` or `s3://trainyard/prefix/`. */
  readonly location: string;
  /**
   * The S3 driver throws TRAINYARD_ERR_STORE_UNAVAILABLE (naming the operation, the object
   * and the cause) when its store is unreachable or fails a request after its retries; the
   * fs driver throws Node's own errors. writeCheckpoint and readCheckpoint turn either into
   * STORE_UNAVAILABLE.
   */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /** Throws TRAINYARD_ERR_STORAGE_NOT_FOUND when absent. */
  get(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix ending in '/', sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
}

export interface PutOptions {
  /** Stops the upload (a multipart upload is aborted); the put rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The address of one object in a store, for messages: `s3://bucket/prefix/key`, `fs:/root/key`. */
export function objectUrl(location: string, key: string): string {
  return location.endsWith('/') ? location + key : `${location}/${key}`;
}

/**
 * A short, single-line description of why a store request failed: the S3 error code and
 * HTTP status, or the network error (`connect ECONNREFUSED 127.0.0.1:4567`), plus the
 * number of attempts the client made when it retried.
 */
export function describeStoreCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & {
    code?: string;
    errors?: unknown[];
    $metadata?: { httpStatusCode?: number; attempts?: number };
    $fault?: string;
  };
  let text = e.message.replace(/^@smithy\/node-http-handler - /, '');
  // Node's happy-eyeballs connect (a host name with several addresses) fails with an
  // AggregateError whose own message is empty.
  if (!text && Array.isArray(e.errors) && e.errors.length > 0) {
    text = e.errors.map((x) => (x instanceof Error ? x.message : String(x))).join('; ');
  }
  if (!text) text = e.code ?? e.name;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && e.$fault !== undefined) {
    text = `HTTP ${status} ${e.name}${text && text !== e.name && text !== 'UnknownError' ? `: ${text}` : ''}`;
  }
  const attempts = e.$metadata?.attempts;
  if (attempts !== undefined && attempts > 1) text += ` (after ${attempts} attempts)`;
  return text;
}

/**
 * An answer no retry can change: a 4xx other than 408 (timeout) and 429 (slow down), e.g.
 * 403 AccessDenied or bad credentials, 404 NoSuchBucket, 400 InvalidBucketName.
 */
function isRefusal(cause: unknown): boolean {
  const status = (cause as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The error for one failed store operation: TRAINYARD_ERR_STORE_REJECTED (not retryable) when
 * the store refused it for good, else TRAINYARD_ERR_STORE_UNAVAILABLE (retryable).
 */
export function storeUnavailable(
  operation: string,
  location: string,
  key: string,
  cause: unknown,
  details?: Record<string, unknown>,
): TrainyardError {
  return new TrainyardError(
    isRefusal(cause) ? Errors.STORE_REJECTED : Errors.STORE_UNAVAILABLE,
    `${operation} ${objectUrl(location, key)} failed: ${describeStoreCause(cause)}`,
    { cause, ...(details ? { details } : {}) },
  );
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
