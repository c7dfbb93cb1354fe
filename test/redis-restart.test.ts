import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '@trainyard/core';
import {
  type LocalCluster,
  type RedisServerHandle,
  readSse,
  startLocalCluster,
  startRedisServer,
} from '@trainyard/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_FAILURE_ENV, lastCheckpointWeights } from './cluster-client.js';

/**
 * A Redis restart mid-job, with AOF on (fsync always): every process reconnects, the job
 * restarts from its checkpoint if the running generation broke, and ends SUCCEEDED with the
 * uninterrupted run's weights. Uses a Redis of its own (the one it kills).
 */

const AOF = ['--appendonly', 'yes', '--appendfsync', 'always'];
const spec = {
  model: { family: 'mlp', hidden: [64] },
  dataset: { name: 'mnist', trainSize: 4800, testSize: 200, splitSeed: 9 },
  workers: 2,
  batchSize: 48,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs: 2,
  seed: 5,
  checkpoint: { everySteps: 10 },
  collective: { timeoutMs: 10_000 },
};

describe('a Redis restart mid-job (AOF on)', () => {
  let dataDir: string;
  let redis: RedisServerHandle;
  let cluster: LocalCluster;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'trainyard-aof-'));
    redis = await startRedisServer({ dir: dataDir, extraArgs: AOF });
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-aof-cluster-'));
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redis.url,
      prefix: `aof-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'objects'),
      logDir: join(dir, 'logs'),
      env: { ...FAST_FAILURE_ENV },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${cluster.apiUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    expect(res.ok, await res.clone().text()).toBe(true);
    return (await res.json()) as T;
  };
  const waitTerminal = async (id: string): Promise<JobRecord> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const job = await api<JobRecord>('GET', `/v1/jobs/${id}`).catch(() => null);
      if (job && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} did not end: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const weights = async (job: JobRecord) =>
    Buffer.from((await lastCheckpointWeights(cluster.storeDir, job)).buffer);

  it('rides out the restart: no job lost, the same final weights', async () => {
    const reference = await waitTerminal((await api<JobRecord>('POST', '/v1/jobs', spec)).id);
    expect(reference.state).toBe('SUCCEEDED');

    const job = await api<JobRecord>('POST', '/v1/jobs', spec);
    await readSse(`${cluster.apiUrl}/v1/jobs/${job.id}/events`, async (msg) => {
      const event = JSON.parse(msg.data) as { type: string; checkpoint?: { step: number } };
      if (event.type === 'checkpoint' && event.checkpoint!.step >= 20 && redis.process.exitCode === null) {
        redis.process.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 1000));
        redis = await startRedisServer({ port: redis.port, dir: dataDir, extraArgs: AOF });
      }
    }).catch(() => {}); // the event stream breaks with Redis; the record is polled below

    const done = await waitTerminal(job.id);
    expect(done.state, JSON.stringify({ error: done.error, restarts: done.restarts })).toBe('SUCCEEDED');
    expect(done.progress?.step).toBe(200);
    expect((await weights(done)).equals(await weights(reference))).toBe(true);
    const listed = await api<{ jobs: JobRecord[] }>('GET', '/v1/jobs?limit=10');
    expect(listed.jobs.map((j) => j.id)).toEqual(expect.arrayContaining([reference.id, job.id]));
  }, 240_000);
});
