import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '@trainyard/core';
import {
  type LocalCluster,
  readSse,
  type S3ServerHandle,
  startLocalCluster,
  startS3Server,
} from '@trainyard/devkit';
import { readCheckpoint, S3ObjectStore } from '@trainyard/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from './helpers.js';

/** Workers configured with S3_* write their checkpoints to an S3-protocol server (s3rver). */
describe('checkpoints in an S3-compatible store (real processes, s3rver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainyard-s3-e2e-'));
  let server: S3ServerHandle;
  let cluster: LocalCluster;

  beforeAll(async () => {
    server = await startS3Server(join(dir, 's3'), { bucket: 'ckpt' });
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redisUrl(),
      prefix: `s3-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'unused'),
      logDir: join(dir, 'logs'),
      env: { TRAINYARD_BACKEND: 'wasm', ...server.workerEnv('trainyard/') },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('writes verifying checkpoints to the bucket', async () => {
    const res = await fetch(`${cluster.apiUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: { family: 'mlp', hidden: [16] },
        dataset: { name: 'mnist', trainSize: 320, testSize: 100 },
        workers: 2,
        batchSize: 32,
        optimizer: { name: 'adam', learningRate: 0.003 },
        epochs: 1,
        checkpoint: { everySteps: 5 },
      }),
    });
    const submitted = (await res.json()) as JobRecord;
    await readSse(`${cluster.apiUrl}/v1/jobs/${submitted.id}/events`, () => {});
    const job = (await (await fetch(`${cluster.apiUrl}/v1/jobs/${submitted.id}`)).json()) as JobRecord;
    expect(job.state, JSON.stringify(job.error)).toBe('SUCCEEDED');
    const s3 = new S3ObjectStore({
      bucket: 'ckpt',
      region: 'us-east-1',
      endpoint: server.endpoint,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      prefix: 'trainyard/',
    });
    try {
      const { manifest } = await readCheckpoint(s3, job.checkpoints.at(-1)!.manifestKey);
      expect(manifest.step).toBe(10);
      expect((await s3.list(`checkpoints/${job.id}/`)).length).toBeGreaterThanOrEqual(4);
    } finally {
      s3.close();
    }
  }, 90_000);
});
