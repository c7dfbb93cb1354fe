/**
 * @trainyard/storage — object store drivers and the checkpoint layout: files first, a
 * manifest with sizes and sha256 last, then the `latest` pointer.
 *
 *   const store = new FsObjectStore('/var/lib/trainyard/objects');
 *   const written = await writeCheckpoint(store, { jobId, generation, step, epoch, files });
 *   const { manifest, files } = await readCheckpoint(store, written.manifestKey);
 */
export {
  CHECKPOINT_FORMAT,
  type CheckpointManifest,
  checkpointDir,
  checkpointPrefix,
  deleteCheckpoint,
  listCheckpoints,
  type ManifestFile,
  readCheckpoint,
  sha256,
  type WrittenCheckpoint,
  writeCheckpoint,
} from './checkpoint.js';
export { FsObjectStore } from './fs-object-store.js';
export {
  describeStoreCause,
  type ObjectStore,
  objectUrl,
  type PutOptions,
  storeUnavailable,
  validateKey,
  validatePrefix,
} from './object-store.js';
export { S3ObjectStore, type S3StoreOptions } from './s3-object-store.js';
