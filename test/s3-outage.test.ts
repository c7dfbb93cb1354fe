import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobRecord } from '@trainyard/core';
import { type LocalCluster, type S3ServerHandle, startLocalCluster, startS3Server } from '@trainyard/devkit';
import { readCheckpoint, S3ObjectStore } from '@trainyard/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_FAILURE_ENV, jobsClient } from './cluster-client.js';
import { redisUrl } from './helpers.js';

/**
 * An S3 outage during training (real processes, real s3rver, real Redis): the checkpoint
 * due while the store is down fails the generation with TRAINYARD_ERR_STORE_UNAVAILABLE
 * naming the store, the object and the cause; the job goes RESTARTING with the last good
 * checkpoint still listed; once the store is back (same port, same data) that checkpoint
 * verifies, the next generation resumes from its step (not from 0) and the job SUCCEEDS.
 *
 * Nothing is paused: a generation placed while the store is still down fails at resume with
 * STORE_UNAVAILABLE too (it never falls back to an older checkpoint or to step 0), and the
 * restart backoff (1 s, 2 s, 4 s, ...) spaces the attempts, so a short outage is ridden out
 * within maxRestarts.
 */
describe('S3 outage during training (real processes, s3rver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainyard-s3-outage-'));
  const s3Dir = join(dir, 's3');
  let server: S3ServerHandle | null = null;
  let port = 0;
  let cluster: LocalCluster;

  const startS3 = async () => {
    server = await startS3Server(s3Dir, { bucket: 'trainyard', ...(port ? { port } : {}) });
    port = server.port;
    return server;
  };
  const stopS3 = async () => {
    const s = server;
    server = null;
    await s?.close();
  };

  beforeAll(async () => {
    const s3 = await startS3();
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redisUrl(),
      prefix: `s3o-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'unused'),
      logDir: join(dir, 'logs'),
      env: {
        ...FAST_FAILURE_ENV,
        ...s3.workerEnv('trainyard/'),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await stopS3();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('fails the checkpoint clearly, keeps the last good one and resumes from it', async () => {
    const jobs = jobsClient(cluster.apiUrl);
    const waitFor = async (what: string, ms: number, check: (j: JobRecord) => boolean) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const j = await jobs.get(job.id);
        if (check(j)) return j;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...j, spec: undefined })}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const job = await jobs.submit({
      model: { family: 'mlp', hidden: [16] },
      dataset: { name: 'mnist', trainSize: 320, testSize: 100 },
      workers: 2,
      batchSize: 32,
      optimizer: { name: 'adam', learningRate: 0.003 },
      // 10 steps an epoch: 300 steps, so the outage surely starts mid-training.
      epochs: 30,
      checkpoint: { everySteps: 5, keepLast: 2 },
      maxRestarts: 6,
    });

    await waitFor('a first checkpoint', 30_000, (j) => j.checkpoints.length >= 1);
    let restarting: JobRecord;
    {
      await stopS3();
      restarting = await waitFor('the generation to fail', 15_000, (j) => j.restarts.length >= 1);
      const restart = restarting.restarts[0]!;
      expect(restart).toMatchObject({ generation: 1, code: 'TRAINYARD_ERR_STORE_UNAVAILABLE', rank: 0 });
      expect(restart.reason).toMatch(
        new RegExp(
          `^TRAINYARD_ERR_STORE_UNAVAILABLE: checkpoint of job ${job.id} step \\d+ could not be written: ` +
            `PUT s3://trainyard/trainyard/checkpoints/${job.id}/\\d{10}/weights\\.bin failed: ` +
            `connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`,
        ),
      );
      const failedStep = Number(/ step (\d+) could not/.exec(restart.reason)![1]);
      // The record still lists the checkpoints written before the outage, the last good one last.
      expect(restarting.checkpoints.length).toBeGreaterThanOrEqual(1);
      const lastGood = restarting.checkpoints.at(-1)!;
      expect(lastGood.step).toBe(failedStep - 5);

      // The next generation, placed after the backoff while the store is still down, cannot
      // read the checkpoint: it fails the same way instead of starting over.
      const again = await waitFor('a generation to fail at resume', 15_000, (j) => j.restarts.length >= 2);
      expect(again.restarts[1]).toMatchObject({ generation: 2, code: 'TRAINYARD_ERR_STORE_UNAVAILABLE' });
      expect(again.restarts[1]!.reason).toMatch(/GET s3:\/\/trainyard\/.*ECONNREFUSED/);
      expect(again.restarts.map((r) => r.delayMs)).toEqual([1_000, 2_000]);
      expect(again.checkpoints).toEqual(restarting.checkpoints);

      // The store comes back with the same data: the last good checkpoint verifies.
      const back = await startS3();
      const s3 = new S3ObjectStore({
        bucket: 'trainyard',
        region: 'us-east-1',
        endpoint: back.endpoint,
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        prefix: 'trainyard/',
      });
      try {
        const { manifest } = await readCheckpoint(s3, lastGood.manifestKey);
        expect(manifest.step).toBe(lastGood.step);
        expect(manifest.generation).toBe(1);
      } finally {
        s3.close();
      }
    }

    const done = await waitFor(
      'the job to end',
      45_000,
      (j) => !['QUEUED', 'PLACED', 'RUNNING', 'RESTARTING'].includes(j.state),
    );
    expect(done.state, JSON.stringify(done.error)).toBe('SUCCEEDED');
    expect(done.restarts.length).toBeGreaterThanOrEqual(2);
    expect(done.restarts.every((r) => r.code === 'TRAINYARD_ERR_STORE_UNAVAILABLE')).toBe(true);
    expect(done.generation).toBe(done.restarts.length + 1);
    expect(done.checkpoints.at(-1)!.step).toBe(300);
    // Both ranks of the last generation resumed from the last good checkpoint's step, and no
    // generation resumed from anything else (nor started over: that logs no resume at all,
    // and would have rewritten step 5's checkpoint, which the record would then list again).
    const lastGood = restarting.checkpoints.at(-1)!;
    const resumed = [0, 1]
      .flatMap((i) => readFileSync(join(dir, 'logs', `worker-${i}.log`), 'utf8').split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l.jobId === job.id && l.msg === 'resuming from checkpoint');
    expect(
      resumed
        .filter((l) => l.generation === done.generation)
        .map((l) => [l.rank, l.step])
        .sort(),
    ).toEqual([
      [0, lastGood.step],
      [1, lastGood.step],
    ]);
    expect(new Set(resumed.map((l) => l.manifest))).toEqual(new Set([lastGood.manifestKey]));
    const started = [0, 1]
      .flatMap((i) => readFileSync(join(dir, 'logs', `worker-${i}.log`), 'utf8').split('\n'))
      .filter((line) => line.includes(job.id) && line.includes('rendezvous complete'))
      .map((line) => (JSON.parse(line) as { generation: number }).generation);
    // Generations that met the store down never got as far as the rendezvous.
    expect(new Set(started)).toEqual(new Set([1, done.generation]));
  }, 90_000);
});
