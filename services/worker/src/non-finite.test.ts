import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, JobSpec, type JobSpecInput, JobStore } from '@trainyard/core';
import { loadDataset, makeDataset } from '@trainyard/data';
import { initBackend } from '@trainyard/engine';
import { decodeNamedArrays } from '@trainyard/models';
import { FsObjectStore, readCheckpoint } from '@trainyard/storage';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { runRank } from './rank-runner.js';

/**
 * Bad data: some training digits carry a NaN pixel, so the steps that read them produce a
 * NaN loss and gradients. The rank must catch it before applying anything, and the spec's
 * onNonFinite decides: fail the job, or skip those steps (up to a bound).
 */

const base: JobSpecInput = {
  model: { family: 'mlp', hidden: [16] },
  dataset: { name: 'mnist', trainSize: 640, testSize: 100, splitSeed: 2 },
  workers: 1,
  batchSize: 32,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs: 1,
  checkpoint: { everySteps: 5, keepLast: 10 },
};

function poisonedData() {
  const real = loadDataset({ name: 'mnist', trainSize: 640, testSize: 100, splitSeed: 2 });
  const x = real.train.x.slice();
  for (const sample of [100, 400]) x[sample * 784 + 300] = Number.NaN;
  return { ...real, train: makeDataset('mnist-train', x, real.train.y, real.train.sampleShape, 10) };
}

describe('non-finite loss or gradients (real Redis, wasm)', () => {
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

  const run = async (spec: JobSpecInput) => {
    const store = new JobStore(fx.redis, fx.keys);
    const { job } = await store.create(JobSpec.parse(spec));
    await store.place(job.id, ['w-nan']);
    const objects = new FsObjectStore(mkdtempSync(join(tmpdir(), 'trainyard-nan-')));
    const outcome = await runRank({
      task: { jobId: job.id, generation: 1, rank: 0, world: 1 },
      workerId: 'w-nan',
      redis: fx.redis,
      keys: fx.keys,
      store,
      objects,
      backend: { name: 'wasm', version: '4.22.0', gpu: null },
      logger: createLogger('nan-test', 'silent'),
      signal: new AbortController().signal,
      loadData: poisonedData,
    });
    const record = await store.mustGet(job.id);
    for (const c of record.checkpoints) {
      const { files } = await readCheckpoint(objects, c.manifestKey);
      expect(decodeNamedArrays(files['weights.bin']!).data.every(Number.isFinite)).toBe(true);
    }
    const logs = (await store.readEvents(job.id, '0')).filter((e) => e.event.type === 'log');
    return { outcome, record, logs };
  };

  it('fails the job at the first non-finite step by default, and checkpoints no NaN', async () => {
    const { outcome, record } = await run(base);
    expect(outcome).toBe('failed');
    expect(record.state).toBe('FAILED');
    expect(record.restarts).toEqual([]); // NaN is not cured by a restart
    expect(record.error).toMatchObject({ code: 'TRAINYARD_ERR_TRAINING_NONFINITE', rank: 0 });
    expect(record.error!.message).toMatch(/NaN/);
    expect(record.progress?.step ?? 0).toBeLessThan(20);
  });

  it('skips the poisoned steps with onNonFinite skip, says so, and finishes', async () => {
    const { outcome, record, logs } = await run({
      ...base,
      onNonFinite: { action: 'skip', maxSkippedSteps: 5 },
    });
    expect(outcome).toBe('succeeded');
    expect(record.state).toBe('SUCCEEDED');
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(logs.length).toBeLessThanOrEqual(2);
    expect(logs[0]!.event).toMatchObject({ level: 'warn', message: expect.stringMatching(/skipped/) });
    expect(record.evaluation!.accuracy).toBeGreaterThan(0.3);
  });

  it('fails once more steps than maxSkippedSteps were skipped', async () => {
    const { record } = await run({ ...base, onNonFinite: { action: 'skip', maxSkippedSteps: 0 } });
    expect(record.state).toBe('FAILED');
    expect(record.error!.message).toMatch(/more than onNonFinite.maxSkippedSteps 0/);
  });
});
