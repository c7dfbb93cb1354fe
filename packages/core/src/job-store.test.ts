import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { JobSpec } from './job-spec.js';
import { JobStore, StoreResult } from './job-store.js';

const spec = JobSpec.parse({
  model: { family: 'mlp', hidden: [8] },
  dataset: { name: 'mnist', trainSize: 100, testSize: 10 },
  workers: 2,
  batchSize: 8,
  optimizer: { name: 'sgd', learningRate: 0.1 },
  epochs: 1,
});

describe('JobStore (real Redis)', () => {
  let fx: RedisFixture;
  let store: JobStore;
  beforeEach(async () => {
    fx = await redisFixture();
    store = new JobStore(fx.redis, fx.keys);
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const states = async (id: string) =>
    (await store.readEvents(id, '0'))
      .filter((e) => e.event.type === 'state')
      .map((e) => (e.event as { state: string }).state);

  it('creates a QUEUED record with its first event, and replays an Idempotency-Key', async () => {
    const a = await store.create(spec, { idempotencyKey: 'k1' });
    const b = await store.create(spec, { idempotencyKey: 'k1' });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.job.id).toBe(a.job.id);
    expect(await fx.redis.zcard(fx.keys.jobIndex())).toBe(1);
    expect(await states(a.job.id)).toEqual(['QUEUED']);
    await expect(store.create({ ...spec, epochs: 2 }, { idempotencyKey: 'k1' })).rejects.toMatchObject({
      code: 'TRAINYARD_ERR_IDEMPOTENCY_CONFLICT',
    });
    const got = await store.mustGet(a.job.id);
    expect(got.spec).toEqual(spec);
    expect(got.state).toBe('QUEUED');
  });

  it('applies transitions atomically and idempotently, and never leaves a terminal state', async () => {
    const { job } = await store.create(spec);
    expect((await store.change(job.id, { to: 'RUNNING' })).result).toBe(StoreResult.WRONG_STATE);
    const placed = await store.place(job.id, ['w1', 'w2']);
    expect(placed).toEqual({ result: StoreResult.OK, generation: 1 });
    expect(await fx.redis.hgetall(fx.keys.assignments())).toEqual({
      w1: `${job.id}:1:0`,
      w2: `${job.id}:1:1`,
    });
    expect((await store.change(job.id, { to: 'RUNNING', generation: 2 })).result).toBe(
      StoreResult.STALE_GENERATION,
    );
    expect((await store.change(job.id, { to: 'RUNNING', generation: 1 })).result).toBe(StoreResult.OK);
    expect((await store.change(job.id, { to: 'RUNNING', generation: 1 })).result).toBe(StoreResult.NOOP);
    expect(
      (await store.change(job.id, { to: 'CANCELLED', from: ['QUEUED', 'PLACED', 'RUNNING'] })).result,
    ).toBe(StoreResult.OK);
    expect((await store.change(job.id, { to: 'SUCCEEDED' })).result).toBe(StoreResult.WRONG_STATE);
    expect((await store.change(job.id, { to: 'FAILED' })).result).toBe(StoreResult.WRONG_STATE);
    expect(await states(job.id)).toEqual(['QUEUED', 'PLACED', 'RUNNING', 'CANCELLED']);
    const final = await store.mustGet(job.id);
    expect(final.state).toBe('CANCELLED');
    expect(final.endedAt).not.toBeNull();
    expect((await store.change('job-missing', { to: 'CANCELLED' })).result).toBe(StoreResult.NOT_FOUND);
  });

  it('places a job only when every worker is unassigned (gang)', async () => {
    const a = await store.create(spec);
    const b = await store.create(spec);
    expect((await store.place(a.job.id, ['w1', 'w2'])).result).toBe(StoreResult.OK);
    const clash = await store.place(b.job.id, ['w2', 'w3']);
    expect(clash).toEqual({ result: StoreResult.WORKER_BUSY, busyWorker: 'w2' });
    expect((await store.mustGet(b.job.id)).state).toBe('QUEUED');
    expect(await fx.redis.hget(fx.keys.assignments(), 'w3')).toBeNull();
    expect((await store.place(a.job.id, ['w4', 'w5'])).result).toBe(StoreResult.WRONG_STATE);
  });
});
