import { createHash } from 'node:crypto';
import { Errors, isTrainyardError, TrainyardError } from '@trainyard/core';
import { type ObjectStore, storeUnavailable } from './object-store.js';

/**
 * Checkpoint layout: `checkpoints/<jobId>/<step, 10 digits>/<file>` for each file, then
 * `manifest.json` (sizes and sha256 of every file) written LAST, then the job's
 * `checkpoints/<jobId>/latest` pointer. A checkpoint without a valid manifest does not exist.
 *
 * A write touches only its own step's directory (and `latest`), so a write that fails at any
 * point (a file, the manifest, the pointer) leaves every earlier checkpoint, its manifest and
 * its files as they were; at worst `latest` still names the previous manifest. (Writing a
 * step that already has a checkpoint replaces its files: a reader then finds it corrupt
 * until the new manifest lands, and falls back to an older one.) Store failures surface as
 * TRAINYARD_ERR_STORE_UNAVAILABLE (retryable), mismatches as TRAINYARD_ERR_CHECKPOINT_CORRUPT.
 */
export const CHECKPOINT_FORMAT = 'trainyard-checkpoint/1';

export interface ManifestFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly jobId: string;
  readonly generation: number;
  readonly step: number;
  readonly epoch: number;
  readonly createdAt: string;
  readonly files: readonly ManifestFile[];
  /** Small facts a reader wants without opening the files (dataset version, spec hash, ...). */
  readonly meta: Record<string, unknown>;
}

export interface WrittenCheckpoint {
  readonly manifest: CheckpointManifest;
  readonly manifestKey: string;
  readonly manifestSha256: string;
  readonly bytes: number;
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function checkpointPrefix(jobId: string): string {
  return `checkpoints/${jobId}/`;
}

export function checkpointDir(jobId: string, step: number): string {
  return `${checkpointPrefix(jobId)}${String(step).padStart(10, '0')}/`;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A store failure while writing a checkpoint, as TRAINYARD_ERR_STORE_UNAVAILABLE naming the
 * job, the step, the object and the cause. Other Trainyard errors (an invalid key) pass through.
 */
function writeFailure(store: ObjectStore, jobId: string, step: number, key: string, err: unknown): unknown {
  const storeCodes = [Errors.STORE_UNAVAILABLE.code, Errors.STORE_REJECTED.code];
  if (err instanceof TrainyardError && !storeCodes.includes(err.code)) return err;
  const inner = err instanceof TrainyardError ? err : storeUnavailable('PUT', store.location, key, err);
  return new TrainyardError(
    inner.code === Errors.STORE_REJECTED.code ? Errors.STORE_REJECTED : Errors.STORE_UNAVAILABLE,
    `checkpoint of job ${jobId} step ${step} could not be written: ${inner.message}`,
    { cause: err, details: { jobId, step, store: store.location, key, ...(inner.details as object) } },
  );
}

export async function writeCheckpoint(
  store: ObjectStore,
  input: {
    jobId: string;
    generation: number;
    step: number;
    epoch: number;
    files: Record<string, Uint8Array>;
    meta?: Record<string, unknown>;
    now?: Date;
    /** Stops the write (uploads in progress are aborted); it rejects with the signal's reason. */
    signal?: AbortSignal;
  },
): Promise<WrittenCheckpoint> {
  const dir = checkpointDir(input.jobId, input.step);
  const put = async (key: string, data: Uint8Array) => {
    try {
      await store.put(key, data, input.signal ? { signal: input.signal } : {});
    } catch (err) {
      if (input.signal?.aborted) throw input.signal.reason;
      throw writeFailure(store, input.jobId, input.step, key, err);
    }
  };
  const files: ManifestFile[] = [];
  let bytes = 0;
  for (const [name, data] of Object.entries(input.files)) {
    if (!FILE_NAME.test(name) || name === 'manifest.json') {
      throw new TrainyardError(
        Errors.STORAGE_KEY_INVALID,
        `checkpoint file name ${JSON.stringify(name)} is not allowed`,
      );
    }
    await put(dir + name, data);
    files.push({ name, bytes: data.byteLength, sha256: sha256(data) });
    bytes += data.byteLength;
  }
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    jobId: input.jobId,
    generation: input.generation,
    step: input.step,
    epoch: input.epoch,
    createdAt: (input.now ?? new Date()).toISOString(),
    files,
    meta: input.meta ?? {},
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const manifestKey = `${dir}manifest.json`;
  // Files first, manifest next (from now on the checkpoint exists), the pointer last.
  await put(manifestKey, manifestBytes);
  await put(`${checkpointPrefix(input.jobId)}latest`, Buffer.from(manifestKey));
  return {
    manifest,
    manifestKey,
    manifestSha256: sha256(manifestBytes),
    bytes: bytes + manifestBytes.byteLength,
  };
}

function corrupt(key: string, why: string): TrainyardError {
  return new TrainyardError(Errors.CHECKPOINT_CORRUPT, `checkpoint ${key}: ${why}`);
}

/** A failed read: a store failure is TRAINYARD_ERR_STORE_UNAVAILABLE, never CHECKPOINT_CORRUPT. */
function readFailure(store: ObjectStore, key: string, err: unknown): unknown {
  return err instanceof TrainyardError ? err : storeUnavailable('GET', store.location, key, err);
}

/**
 * Reads a manifest and every file it lists, checking sizes and sha256; throws
 * CHECKPOINT_CORRUPT when they do not match (or a listed file is missing),
 * STORAGE_NOT_FOUND when the manifest is missing, and STORE_UNAVAILABLE when the store
 * cannot be read (the checkpoint may be fine: try again once the store is back).
 */
export async function readCheckpoint(
  store: ObjectStore,
  manifestKey: string,
): Promise<{ manifest: CheckpointManifest; files: Record<string, Buffer> }> {
  let raw: Buffer;
  try {
    raw = await store.get(manifestKey);
  } catch (err) {
    throw readFailure(store, manifestKey, err);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(raw.toString('utf8')) as CheckpointManifest;
  } catch {
    throw corrupt(manifestKey, 'manifest is not valid JSON');
  }
  if (manifest?.format !== CHECKPOINT_FORMAT || !Array.isArray(manifest.files)) {
    throw corrupt(manifestKey, `unknown manifest format ${JSON.stringify(manifest?.format)}`);
  }
  const dir = manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1);
  const files: Record<string, Buffer> = {};
  for (const f of manifest.files) {
    let data: Buffer;
    try {
      data = await store.get(dir + f.name);
    } catch (err) {
      if (
        isTrainyardError(err, Errors.STORAGE_NOT_FOUND) ||
        isTrainyardError(err, Errors.STORAGE_KEY_INVALID)
      )
        throw corrupt(manifestKey, `file ${f.name} is missing (${(err as Error).message})`);
      throw readFailure(store, dir + f.name, err);
    }
    if (data.byteLength !== f.bytes)
      throw corrupt(manifestKey, `file ${f.name} has ${data.byteLength} bytes, manifest says ${f.bytes}`);
    const digest = sha256(data);
    if (digest !== f.sha256)
      throw corrupt(manifestKey, `file ${f.name} sha256 ${digest} differs from manifest ${f.sha256}`);
    files[f.name] = data;
  }
  return { manifest, files };
}

/** Manifest keys of a job's checkpoints, oldest first (only those whose manifest exists). */
export async function listCheckpoints(store: ObjectStore, jobId: string): Promise<string[]> {
  const keys = await store.list(checkpointPrefix(jobId));
  return keys.filter((k) => k.endsWith('/manifest.json'));
}

/**
 * Deletes a checkpoint: its manifest first (from then on the checkpoint does not exist), then
 * the files it lists. Deleting one that is already gone is not an error.
 */
export async function deleteCheckpoint(store: ObjectStore, manifestKey: string): Promise<void> {
  let raw: Buffer;
  try {
    raw = await store.get(manifestKey);
  } catch (err) {
    if (err instanceof TrainyardError && err.code === Errors.STORAGE_NOT_FOUND.code) return; // already gone
    // The store failed: keep the manifest, or its files could never be found and deleted.
    throw readFailure(store, manifestKey, err);
  }
  let files: readonly ManifestFile[] = [];
  try {
    files = (JSON.parse(raw.toString('utf8')) as CheckpointManifest).files ?? [];
  } catch {
    // A manifest that is not JSON lists nothing: only the manifest itself can go.
  }
  await store.delete(manifestKey);
  const dir = manifestKey.slice(0, manifestKey.lastIndexOf('/') + 1);
  for (const f of files) await store.delete(dir + f.name);
}
