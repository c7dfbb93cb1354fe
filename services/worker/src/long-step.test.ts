import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createMetricsRegistry, JobSpec, JobStore, type RankTask } from '@trainyard/core';
import { initBackend } from '@trainyard/engine';
import { FsObjectStore } from '@trainyard/storage';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { createWorker, type TrainyardWorker } from './worker-agent.js';
import { createWorkerMetrics } from './worker-metrics.js';

/**
 * Steps that hold the event loop far longer than the queue's lock: the rank task must run
 * exactly once — no "stalled" re-delivery, no second copy of the rank — and the worker must
 * stay alive in the pool. Real BullMQ, real Redis, a real (large) model on wasm.
 */
describe('a step longer than the queue lock (real BullMQ)', () => {
  let fx: RedisFixture;
  let worker: TrainyardWorker | null = null;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    await initBackend('wasm');
  });
  beforeEach(async () => {
    fx = await redisFixture();
  });
  afterEach(async () => {
    await worker?.close();
    for (const close of closers.splice(0)) await close();
    await fx.cleanup();
  });

  it('runs every step once and never re-delivers the task', async () => {
    const metrics = createWorkerMetrics(createMetricsRegistry('worker', { defaultMetrics: false }));
    worker = createWorker({
      workerId: 'w-long',
      redisUrl: fx.url,
      redis: fx.redis,
      connect: () => fx.redis.duplicate(),
      keys: fx.keys,
      objects: new FsObjectStore(mkdtempSync(join(tmpdir(), 'trainyard-long-'))),
      backend: { name: 'wasm', version: '4.22.0', gpu: null },
      logger: createLogger('long-step-test', 'silent'),
      metrics,
      heartbeatMs: 200,
      heartbeatTtlMs: 1000,
      queueLockMs: 200,
    });
    await worker.start();

    const store = new JobStore(fx.redis, fx.keys);
    // 784-3000-3000-10 at batch 64: each step is several hundred ms of uninterrupted compute.
    const spec = JobSpec.parse({
      model: { family: 'mlp', hidden: [3000, 3000] },
      dataset: { name: 'mnist', trainSize: 256, testSize: 64 },
      workers: 1,
      batchSize: 64,
      optimizer: { name: 'sgd', learningRate: 0.01 },
      epochs: 1,
      checkpoint: { everySteps: 1000 },
    });
    const { job } = await store.create(spec);
    await store.place(job.id, ['w-long']);
    const queue = new Queue(fx.keys.workerQueue('w-long'), {
      connection: fx.redis,
      prefix: fx.keys.bullPrefix(),
    });
    const events = new QueueEvents(fx.keys.workerQueue('w-long'), {
      connection: fx.redis.duplicate(),
      prefix: fx.keys.bullPrefix(),
    });
    closers.push(
      () => queue.close(),
      () => events.close(),
    );
    let stalled = 0;
    events.on('stalled', () => stalled++);
    const task: RankTask = { jobId: job.id, generation: 1, rank: 0, world: 1 };
    await queue.add('rank', task, { jobId: `${job.id}.1.0` });

    let beatsMissed = 0;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = await store.getState(job.id);
      if (s?.state === 'SUCCEEDED' || s?.state === 'FAILED') break;
      if (!(await fx.redis.exists(fx.keys.workerHeartbeat('w-long')))) beatsMissed++;
      if (Date.now() > deadline) throw new Error('the job did not end');
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = await store.mustGet(job.id);
    expect(done.state, JSON.stringify(done.error)).toBe('SUCCEEDED');
    expect((await metrics.steps.get()).values[0]!.value).toBe(4); // 256 / 64, each once
    const outcomes = (await metrics.ranks.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(outcomes).toEqual([['succeeded', 1]]);
    expect(stalled).toBe(0);
    expect(await queue.getJobCounts('completed', 'failed', 'active', 'wait')).toEqual({
      completed: 1,
      failed: 0,
      active: 0,
      wait: 0,
    });
    expect(beatsMissed).toBe(0); // the heartbeat never lapsed while steps ran
  }, 120_000);
});
