import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '@trainyard/core';
import { freePort, type LocalCluster, readSse, startLocalCluster } from '@trainyard/devkit';
import { readCheckpoint, S3ObjectStore } from '@trainyard/storage';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl } from './helpers.js';

/** Workers configured with S3_* write their checkpoints to an S3-protocol server (s3rver). */
describe('checkpoints in an S3-compatible store (real processes, s3rver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainyard-s3-e2e-'));
  let server: { run(): Promise<unknown>; close(): Promise<void> };
  let cluster: LocalCluster;
  let endpoint = '';

  beforeAll(async () => {
    const port = await freePort();
    server = new S3rver({
      port,
      address: '127.0.0.1',
      directory: join(dir, 's3'),
      silent: true,
      configureBuckets: [{ name: 'ckpt' }],
    });
    await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redisUrl(),
      prefix: `s3-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'unused'),
      logDir: join(dir, 'logs'),
      env: {
        TRAINYARD_BACKEND: 'wasm',
        S3_BUCKET: 'ckpt',
        S3_ENDPOINT: endpoint,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_PREFIX: 'trainyard/',
      },
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
      endpoint,
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
