import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { BaseConfig, compileConfig, port, positiveMs } from '@trainyard/core';
import { BACKEND_PREFERENCES } from '@trainyard/engine';
import { z } from 'zod';

export const WorkerConfig = BaseConfig.extend({
  /** Unique within the cluster; defaults to <hostname>-<pid>. */
  WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'may hold letters, digits, _ . - only (1-128)')
    .default(`${hostname()}-${process.pid}`),
  TRAINYARD_BACKEND: z.enum(BACKEND_PREFERENCES).default('auto'),
  /** Root folder of the filesystem object store (checkpoints). */
  TRAINYARD_STORE_DIR: z
    .string()
    .min(1)
    .default('.data/objects')
    .transform((p) => resolve(p)),
  /** With S3_BUCKET set, checkpoints go to that S3-compatible store instead of TRAINYARD_STORE_DIR. */
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_][A-Za-z0-9._-]*\/)*$/, "must be empty or end with '/'")
    .default(''),
  /** Attempts per S3 request (the SDK retries with backoff), 1..10. */
  S3_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  S3_CONNECT_TIMEOUT_MS: positiveMs.default(5_000),
  S3_REQUEST_TIMEOUT_MS: positiveMs.default(30_000),
  /** Objects this large or larger go up in parts (multipart upload). */
  S3_MULTIPART_THRESHOLD_BYTES: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  /** Part size of multipart uploads; S3 requires at least 5 MiB. */
  S3_PART_SIZE_BYTES: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .max(5 * 1024 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** 0 picks a free port. */
  METRICS_PORT: port.default(0),
  /** How long a job's series stay exported after its rank ends (so the last values get scraped). */
  METRICS_JOB_LINGER_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  HEARTBEAT_MS: positiveMs.default(1000),
  HEARTBEAT_TTL_MS: positiveMs.default(5000),
  /** On SIGTERM, how long a running rank may take to checkpoint and hand its job over. */
  WORKER_DRAIN_GRACE_MS: positiveMs.default(60_000),
}).refine((c) => c.HEARTBEAT_TTL_MS >= 2 * c.HEARTBEAT_MS, {
  path: ['HEARTBEAT_TTL_MS'],
  message: 'must be at least twice HEARTBEAT_MS, or a live worker would flap between alive and lost',
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

export function loadWorkerConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<WorkerConfig> {
  return compileConfig(WorkerConfig, env);
}
