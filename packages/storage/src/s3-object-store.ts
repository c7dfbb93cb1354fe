import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Errors, TrainyardError } from '@trainyard/core';
import {
  describeStoreCause,
  type ObjectStore,
  type PutOptions,
  storeUnavailable,
  validateKey,
  validatePrefix,
} from './object-store.js';

const MiB = 1024 * 1024;
/** S3's own limits: parts of 5 MiB to 5 GiB (the last one may be smaller), at most 10 000 of them. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PART_BYTES = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;

/** Where an S3-compatible store is and how to reach it (MinIO, AWS S3, and others). */
export interface S3StoreOptions {
  readonly bucket: string;
  readonly region: string;
  /** e.g. http://minio:9000; omit for AWS. */
  readonly endpoint?: string;
  /** Path-style URLs (bucket in the path), as MinIO and most self-hosted stores want. */
  readonly forcePathStyle?: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Key prefix inside the bucket, e.g. "trainyard/" (ends with '/', or empty). */
  readonly prefix?: string;
  /** Attempts per request, with the SDK's exponential backoff (default 3). */
  readonly maxAttempts?: number;
  /** How long to wait for a TCP (or TLS) connection to the store, per attempt (default 5000 ms). */
  readonly connectionTimeoutMs?: number;
  /**
   * How long one request may take until the store's answer begins, per attempt: the whole
   * upload of a PutObject or of one part (default 30000 ms).
   */
  readonly requestTimeoutMs?: number;
  /** Objects of at least this many bytes are uploaded in parts (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Size of each part but the last (default 8 MiB; S3 allows 5 MiB to 5 GiB). */
  readonly partSizeBytes?: number;
  /** Parts uploaded at the same time (default 4). */
  readonly partConcurrency?: number;
}

/** How long aborting a failed multipart upload may take. */
const ABORT_UPLOAD_TIMEOUT_MS = 5_000;

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  // A missing bucket is a misconfiguration, not a missing object (STORE_REJECTED).
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

function positiveInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TrainyardError(
      Errors.CONFIG_INVALID,
      `invalid configuration: S3 store option ${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * S3 driver. Keys follow the same rules as the filesystem driver (validateKey). A put is
 * atomic on S3: readers see the old object or the new one, never a part (a multipart upload
 * becomes visible only when it completes, and is aborted when any part fails).
 *
 * Every request has a connection and a request timeout and is retried at most maxAttempts
 * times, so an unreachable store fails a call within seconds; the failure is a
 * TRAINYARD_ERR_STORE_UNAVAILABLE naming the operation, the object (`s3://bucket/key`) and the
 * cause.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  /** The SDK client; public so that tests and instrumentation can add middleware. */
  readonly client: S3Client;
  private readonly prefix: string;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;

  constructor(private readonly options: S3StoreOptions) {
    this.prefix = validatePrefix(options.prefix ?? '');
    this.location = `s3://${options.bucket}/${this.prefix}`;
    this.multipartThreshold = positiveInt(
      'multipartThresholdBytes',
      options.multipartThresholdBytes ?? 16 * MiB,
      1,
    );
    this.partSize = positiveInt(
      'partSizeBytes',
      options.partSizeBytes ?? 8 * MiB,
      MIN_PART_BYTES,
      MAX_PART_BYTES,
    );
    this.partConcurrency = positiveInt('partConcurrency', options.partConcurrency ?? 4, 1, 64);
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      maxAttempts: positiveInt('maxAttempts', options.maxAttempts ?? 3, 1, 20),
      // The options form of the SDK's NodeHttpHandler (no direct dependency on @smithy/*).
      // requestTimeout only warns unless throwOnRequestTimeout is set.
      // requestTimeout ends at the response's headers; socketTimeout (socket idle) also bounds
      // a body that stalls midway, which would otherwise hang a resume for good.
      requestHandler: {
        connectionTimeout: positiveInt('connectionTimeoutMs', options.connectionTimeoutMs ?? 5_000, 1),
        requestTimeout: positiveInt('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, 1),
        socketTimeout: positiveInt('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, 1),
        throwOnRequestTimeout: true,
      },
      // Checksums only where S3 requires them: the SDK's default CRC32 on every part is
      // refused by some S3-compatible stores in multipart uploads (sha256 manifests verify data).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
    });
  }

  private key(key: string): string {
    return this.prefix + validateKey(key);
  }

  /**
   * A store failure as TRAINYARD_ERR_STORE_UNAVAILABLE; Trainyard errors pass through, and a
   * call stopped by the caller's signal rejects with the signal's reason.
   */
  private failure(operation: string, key: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof TrainyardError) return err;
    return storeUnavailable(operation, this.location, key, err);
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const objectKey = this.key(key);
    const { signal } = options;
    try {
      signal?.throwIfAborted();
      if (data.byteLength > 0 && data.byteLength >= this.multipartThreshold) {
        await this.putMultipart(key, objectKey, data, signal);
      } else {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.options.bucket, Key: objectKey, Body: data }),
          signal ? { abortSignal: signal } : {},
        );
      }
    } catch (err) {
      throw this.failure('PUT', key, err, signal);
    }
  }

  /**
   * CreateMultipartUpload, then the parts (at most partConcurrency at a time), then
   * CompleteMultipartUpload. On any failure the parts still in flight are stopped and the
   * upload is aborted, so no upload is left behind; the first failure is what is thrown, and
   * a failed abort is added to its message and details (never dropped).
   */
  private async putMultipart(
    key: string,
    objectKey: string,
    data: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const Bucket = this.options.bucket;
    const partSize = Math.max(this.partSize, Math.ceil(data.byteLength / MAX_PARTS));
    const partCount = Math.ceil(data.byteLength / partSize);
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket, Key: objectKey }),
      signal ? { abortSignal: signal } : {},
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    // Stops the other parts at the first failure (and follows the caller's signal).
    // (Not AbortSignal.any: Node 20 before 20.3 lacks it.)
    const stopParts = new AbortController();
    const followCaller = () => stopParts.abort(signal?.reason);
    signal?.addEventListener('abort', followCaller, { once: true });
    const partSignal = stopParts.signal;
    try {
      const etags: string[] = new Array(partCount);
      let next = 0;
      const failures: unknown[] = [];
      const uploader = async () => {
        while (failures.length === 0 && next < partCount) {
          const index = next++;
          const start = index * partSize;
          try {
            const out = await this.client.send(
              new UploadPartCommand({
                Bucket,
                Key: objectKey,
                UploadId,
                PartNumber: index + 1,
                Body: data.subarray(start, Math.min(start + partSize, data.byteLength)),
              }),
              { abortSignal: partSignal },
            );
            if (!out.ETag) throw new Error(`UploadPart ${index + 1} answered without an ETag`);
            etags[index] = out.ETag;
          } catch (err) {
            if (failures.length === 0) stopParts.abort(err);
            failures.push(err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.partConcurrency, partCount) }, uploader));
      // The first failure; the others are usually the parts it stopped.
      if (failures.length > 0) throw failures[0];
      signal?.removeEventListener('abort', followCaller);
      signal?.throwIfAborted();
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: objectKey,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (caught) {
      signal?.removeEventListener('abort', followCaller);
      const err: unknown = signal?.aborted ? signal.reason : caught;
      // Not under the caller's signal: the abort must run even when the caller gave up.
      try {
        // Bounded, so a dead store cannot hold a draining worker past its grace; a bucket
        // lifecycle rule (AbortIncompleteMultipartUpload) is the backstop.
        await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key: objectKey, UploadId }), {
          abortSignal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS),
        });
      } catch (abortErr) {
        const details = { uploadId: UploadId, abortError: describeStoreCause(abortErr) };
        if (signal?.aborted || err instanceof TrainyardError) {
          if (err instanceof Error) Object.assign(err, { abortError: abortErr, uploadId: UploadId });
          throw err;
        }
        const first = storeUnavailable('PUT', this.location, key, err, details);
        throw new TrainyardError(
          Errors.STORE_UNAVAILABLE,
          `${first.message}; aborting multipart upload ${UploadId} also failed: ${details.abortError}`,
          { cause: err, details },
        );
      }
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) {
        throw new TrainyardError(Errors.STORAGE_NOT_FOUND, `no object ${key} in ${this.location}`, {
          cause: err,
        });
      }
      throw this.failure('GET', key, err);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.failure('HEAD', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    validatePrefix(prefix);
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.prefix.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure('LIST', prefix, err);
    }
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }));
    } catch (err) {
      throw this.failure('DELETE', key, err);
    }
  }

  close(): void {
    this.client.destroy();
  }
}
