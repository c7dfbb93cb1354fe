import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createMetricsRegistry, JobSpec, type JobSpecInput, JobStore } from '@trainyard/core';
import { freePort } from '@trainyard/devkit';
import { initBackend } from '@trainyard/engine';
import { decodeNamedArrays } from '@trainyard/models';
import { FsObjectStore, type ObjectStore, readCheckpoint, S3ObjectStore } from '@trainyard/storage';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { runRank } from './rank-runner.js';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.js';

/**
 * Resume verifies before it trusts: when the newest checkpoint is damaged (a file cut off by a
 * crash mid-write, bytes rotted on disk), the next generation resumes from the previous one
 * and still ends with the weights of an uninterrupted run.
 */

const spec: JobSpecInput = {
  model: { family: 'mlp', hidden: [16] },
  dataset: { name: 'mnist', trainSize: 640, testSize: 100, splitSeed: 4 },
  workers: 1,
  batchSize: 32,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs: 1,
  seed: 3,
  checkpoint: { everySteps: 5, keepLast: 10 },
};

/** The store as is, but the rank "dies" (its signal aborts) right after step 10's checkpoint. */
function stopAfterStep10(fs: ObjectStore, jobId: string, stop: AbortController): ObjectStore {
  return {
    location: fs.location,
    get: (k) => fs.get(k),
    exists: (k) => fs.exists(k),
    list: (p) => fs.list(p),
    delete: (k) => fs.delete(k),
    async put(key, data) {
      await fs.put(key, data);
      if (key === `checkpoints/${jobId}/0000000010/manifest.json`) stop.abort(new Error('worker died'));
    },
  };
}

describe('resume falls back past a damaged checkpoint (real Redis, wasm)', () => {
  let fx: RedisFixture;
  beforeAll(async () => {
    await initBackend('wasm');
  });
  beforeEach(async () => {
    fx = await redisFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const run = async (
    store: JobStore,
    objects: ObjectStore,
    jobId: string,
    generation: number,
    signal: AbortSignal,
    metrics?: WorkerMetrics,
  ) =>
    runRank({
      ...(metrics ? { metrics } : {}),
      task: { jobId, generation, rank: 0, world: 1 },
      workerId: `w-${generation}`,
      redis: fx.redis,
      keys: fx.keys,
      store,
      objects,
      backend: { name: 'wasm', version: '4.22.0', gpu: null },
      logger: createLogger('resume-test', 'silent'),
      signal,
    });

  it('skips the damaged newest checkpoint and resumes from the one before', async () => {
    const store = new JobStore(fx.redis, fx.keys);
    const root = mkdtempSync(join(tmpdir(), 'trainyard-resume-'));
    const fs = new FsObjectStore(root);

    const reference = (await store.create(JobSpec.parse(spec))).job;
    await store.place(reference.id, ['w-ref']);
    expect(await run(store, fs, reference.id, 1, new AbortController().signal)).toBe('succeeded');

    // Generation 1 of the job under test stops (as if its worker died) right after step 10's checkpoint.
    const { job } = await store.create(JobSpec.parse(spec));
    await store.place(job.id, ['w-1']);
    const stop = new AbortController();
    const watching = stopAfterStep10(fs, job.id, stop);
    expect(await run(store, watching, job.id, 1, stop.signal)).toBe('failed');
    const restarting = await store.mustGet(job.id);
    expect(restarting.state).toBe('RESTARTING');
    expect(restarting.checkpoints.map((c) => c.step)).toEqual([5, 10]);

    // Step 10's weights file is damaged on disk.
    writeFileSync(join(root, `checkpoints/${job.id}/0000000010/weights.bin`), Buffer.from('cut off'));
    expect((await store.place(job.id, ['w-2'])).generation).toBe(2);
    const metrics = createWorkerMetrics(createMetricsRegistry('worker', { defaultMetrics: false }));
    expect(await run(store, fs, job.id, 2, new AbortController().signal, metrics)).toBe('succeeded');
    // Resumed from step 5 (step 10's checkpoint was refused): 15 of the 20 steps ran again.
    expect((await metrics.steps.get()).values[0]!.value).toBe(15);

    const done = await store.mustGet(job.id);
    expect(done.state).toBe('SUCCEEDED');
    const resumed = (await store.readEvents(job.id, '0')).find(
      (e) => e.event.type === 'progress' && e.event.generation === 2,
    );
    const firstStep = (resumed!.event as { progress: { step: number } }).progress.step;
    expect(firstStep).toBeGreaterThan(5);
    const ref = await store.mustGet(reference.id);
    const weights = async (manifestKey: string) =>
      Buffer.from(
        decodeNamedArrays((await readCheckpoint(fs, manifestKey)).files['weights.bin']!).data.buffer,
      );
    expect(
      (await weights(done.checkpoints.at(-1)!.manifestKey)).equals(
        await weights(ref.checkpoints.at(-1)!.manifestKey),
      ),
    ).toBe(true);
  });

  it('an unreachable store fails the generation (STORE_UNAVAILABLE), never a fallback to an older checkpoint or step 0', async () => {
    const store = new JobStore(fx.redis, fx.keys);
    const fs = new FsObjectStore(mkdtempSync(join(tmpdir(), 'trainyard-resume-')));
    const { job } = await store.create(JobSpec.parse(spec));
    await store.place(job.id, ['w-1']);
    const stop = new AbortController();
    const watching = stopAfterStep10(fs, job.id, stop);
    expect(await run(store, watching, job.id, 1, stop.signal)).toBe('failed');
    expect((await store.place(job.id, ['w-2'])).generation).toBe(2);

    // Generation 2 meets a store that refuses connections (a real S3 client, nothing listening).
    const down = new S3ObjectStore({
      bucket: 'trainyard',
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${await freePort()}`,
      accessKeyId: 'x',
      secretAccessKey: 'y',
      maxAttempts: 1,
    });
    const metrics = createWorkerMetrics(createMetricsRegistry('worker', { defaultMetrics: false }));
    expect(await run(store, down, job.id, 2, new AbortController().signal, metrics)).toBe('failed');
    const after = await store.mustGet(job.id);
    expect(after.state).toBe('RESTARTING');
    expect(after.restarts.at(-1)).toMatchObject({ generation: 2, code: 'TRAINYARD_ERR_STORE_UNAVAILABLE' });
    expect(after.restarts.at(-1)!.reason).toMatch(/ECONNREFUSED/);
    // No step ran, and the checkpoints the record lists are untouched and still verify.
    expect((await metrics.steps.get()).values[0]?.value ?? 0).toBe(0);
    expect(after.checkpoints.map((c) => c.step)).toEqual([5, 10]);
    for (const c of after.checkpoints) await readCheckpoint(fs, c.manifestKey);
    // The second counted restart waits twice as long as the first before it can be placed.
    expect(after.restarts.map((r) => r.delayMs)).toEqual([1_000, 2_000]);
  });
});
