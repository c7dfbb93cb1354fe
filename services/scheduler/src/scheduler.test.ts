import {
  createLogger,
  createMetricsRegistry,
  JobSpec,
  JobStore,
  type RankTask,
  type Registry,
  type WorkerRegistration,
} from '@trainyard/core';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { createScheduler, type Scheduler, type SchedulerDeps } from './scheduler.js';
import { createSchedulerMetrics } from './scheduler-metrics.js';

const specFor = (workers: number) =>
  JobSpec.parse({
    model: { family: 'mlp', hidden: [8] },
    dataset: { name: 'mnist', trainSize: 100, testSize: 10 },
    workers,
    batchSize: 12,
    optimizer: { name: 'sgd', learningRate: 0.1 },
    epochs: 1,
  });

describe('scheduler (real Redis, real BullMQ)', () => {
  let fx: RedisFixture;
  let store: JobStore;
  let scheduler: Scheduler;
  const replicas: Scheduler[] = [];
  const queues: Queue[] = [];

  const queue = (name: string) => {
    const q = new Queue(name, { connection: fx.redis, prefix: fx.keys.bullPrefix() });
    queues.push(q);
    return q;
  };

  const addWorker = async (workerId: string, running: string | null = null, backend = 'cpu') => {
    const reg: WorkerRegistration = {
      workerId,
      host: 'test',
      pid: 1,
      slots: 1,
      backend: { name: backend, version: '4.22.0', gpu: null },
      metricsUrl: null,
      registeredAt: new Date().toISOString(),
    };
    await fx.redis.hset(fx.keys.workers(), workerId, JSON.stringify(reg));
    await fx.redis.set(
      fx.keys.workerHeartbeat(workerId),
      JSON.stringify({ workerId, ts: reg.registeredAt, running }),
      'PX',
      60_000,
    );
  };

  const submit = async (workers: number, allowMixedBackends = false, maxRestarts = 3) => {
    const { job } = await store.create({ ...specFor(workers), allowMixedBackends, maxRestarts });
    await queue(fx.keys.submissionsQueue()).add(
      'submit',
      { jobId: job.id, submittedAt: job.createdAt },
      { jobId: job.id },
    );
    return job.id;
  };

  const tasksOf = async (workerId: string): Promise<RankTask[]> =>
    (await queue(fx.keys.workerQueue(workerId)).getJobs(['waiting', 'wait', 'prioritized'])).map(
      (j) => j.data as RankTask,
    );

  const waitUntil = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const schedulerDeps = (): SchedulerDeps => ({
    redis: fx.redis,
    connect: () => fx.redis.duplicate(),
    keys: fx.keys,
    logger: createLogger('scheduler-test', 'silent'),
    tickMs: 200,
    forgetLostWorkerMs: 300,
    rankStartGraceMs: 1_500,
  });

  beforeEach(async () => {
    fx = await redisFixture();
    store = new JobStore(fx.redis, fx.keys);
    scheduler = createScheduler(schedulerDeps());
  });

  afterEach(async () => {
    await scheduler.close();
    await Promise.all(replicas.splice(0).map((s) => s.close()));
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await fx.cleanup();
  });

  it('places a gang only when all its ranks fit, lets a smaller job pass it, and dispatches one task per rank', async () => {
    await addWorker('w-a');
    await addWorker('w-b');
    await scheduler.start();
    const big = await submit(3);
    const small = await submit(2);
    await waitUntil(
      'the small job to be placed',
      async () => (await store.mustGet(small)).state === 'PLACED',
    );
    expect((await store.mustGet(big)).state).toBe('QUEUED');
    expect(await fx.redis.zrange(fx.keys.pending(), 0, -1)).toEqual([big]);
    const placement = (await store.mustGet(small)).placement!;
    expect(placement.map((p) => p.workerId).sort()).toEqual(['w-a', 'w-b']);
    for (const p of placement) {
      expect(await tasksOf(p.workerId)).toEqual([{ jobId: small, generation: 1, rank: p.rank, world: 2 }]);
    }
    // A third worker does not make the 3-rank job fit while two are busy.
    await addWorker('w-c');
    await scheduler.tick();
    expect((await store.mustGet(big)).state).toBe('QUEUED');

    // The small job ends; its workers are released once they stop running it, and the big job fits.
    await store.change(small, { to: 'CANCELLED', from: ['PLACED'] });
    await scheduler.tick();
    await waitUntil('the big job to be placed', async () => (await store.mustGet(big)).state === 'PLACED');
    expect((await store.mustGet(big)).placement!.map((p) => p.workerId).sort()).toEqual([
      'w-a',
      'w-b',
      'w-c',
    ]);
  });

  it('places a gang on one backend only, unless the spec allows mixed backends', async () => {
    await addWorker('w-cpu', null, 'cpu');
    await addWorker('w-wasm', null, 'wasm');
    await scheduler.start();
    const strict = await submit(2);
    await scheduler.tick();
    expect((await store.mustGet(strict)).state).toBe('QUEUED');
    const log = (await store.readEvents(strict, '0')).find((e) => e.event.type === 'log');
    expect(log?.event).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/cpu: 1, wasm: 1|wasm: 1, cpu: 1/),
    });
    await addWorker('w-wasm-2', null, 'wasm');
    await waitUntil(
      'the strict job on the two wasm workers',
      async () => (await store.mustGet(strict)).state === 'PLACED',
    );
    expect((await store.mustGet(strict)).placement!.map((p) => p.workerId).sort()).toEqual([
      'w-wasm',
      'w-wasm-2',
    ]);
    await addWorker('w-tf', null, 'tensorflow');
    const mixed = await submit(2, true);
    await waitUntil('the mixed job', async () => (await store.mustGet(mixed)).state === 'PLACED');
    expect((await store.mustGet(mixed)).placement!.map((p) => p.workerId).sort()).toEqual(['w-cpu', 'w-tf']);
  });

  it('places an elastic job with as many workers as are free within its bounds, and restarts it smaller', async () => {
    await addWorker('w-a');
    await addWorker('w-b');
    await scheduler.start();
    const { job } = await store.create({ ...specFor(1), workers: { min: 2, max: 3 }, batchSize: 12 });
    await queue(fx.keys.submissionsQueue()).add(
      'submit',
      { jobId: job.id, submittedAt: job.createdAt },
      { jobId: job.id },
    );
    await waitUntil(
      'placement on the 2 free workers',
      async () => (await store.mustGet(job.id)).state === 'PLACED',
    );
    expect((await store.mustGet(job.id)).placement).toHaveLength(2);
    // A third worker joins; a lost one ends the generation; the restart takes what is free (2).
    await addWorker('w-c');
    await fx.redis.del(fx.keys.workerHeartbeat('w-a'));
    await waitUntil('generation 2', async () => (await store.mustGet(job.id)).generation === 2);
    const second = await store.mustGet(job.id);
    expect(second.placement!.map((p) => p.workerId).sort()).toEqual(['w-b', 'w-c']);
    expect(await tasksOf('w-c')).toContainEqual({
      jobId: job.id,
      generation: 2,
      rank: expect.any(Number),
      world: 2,
    });
  });

  it('re-places a generation whose rank tasks never reached its live workers', async () => {
    await addWorker('w-a');
    await addWorker('w-b');
    await scheduler.start();
    const id = await submit(1);
    await waitUntil('placement', async () => (await store.mustGet(id)).state === 'PLACED');
    const first = (await store.mustGet(id)).placement![0]!.workerId;
    // The task is lost (as if the scheduler had died between placing and dispatching).
    await queue(fx.keys.workerQueue(first)).obliterate({ force: true });
    await waitUntil('generation 2', async () => (await store.mustGet(id)).generation === 2);
    const job = await store.mustGet(id);
    expect(job.restarts[0]).toMatchObject({ code: 'TRAINYARD_ERR_RANK_FAILED', workerId: first });
    expect(job.restarts[0]!.reason).toMatch(/never started its rank/);
    // The first counted restart backs off 1 s (notBefore, in Redis' clock) before placement.
    expect(job.restarts[0]!.delayMs).toBe(1_000);
    await waitUntil('generation 2 placed', async () => (await store.mustGet(id)).state === 'PLACED');
    const placed = await store.mustGet(id);
    expect(Date.parse(placed.placedAt!) - Date.parse(placed.restarts[0]!.at)).toBeGreaterThanOrEqual(950);
  });

  it('schedules a QUEUED job whose submission never reached the queue', async () => {
    await addWorker('w-a');
    const { job } = await store.create(specFor(1)); // record written, enqueue "lost"
    await scheduler.start();
    await waitUntil('the job to be placed', async () => (await store.mustGet(job.id)).state === 'PLACED');
  });

  it('does not reuse a worker that still runs a rank of an ended job', async () => {
    await addWorker('w-a');
    await scheduler.start();
    const first = await submit(1);
    await waitUntil('placement', async () => (await store.mustGet(first)).state === 'PLACED');
    await addWorker('w-a', `${first}:1:0`); // the worker reports it is running the rank
    await store.change(first, { to: 'CANCELLED', from: ['PLACED'] });
    const second = await submit(1);
    await scheduler.tick();
    await scheduler.tick();
    expect((await store.mustGet(second)).state).toBe('QUEUED');
    await addWorker('w-a', null); // the rank stopped
    await waitUntil(
      'the second job to be placed',
      async () => (await store.mustGet(second)).state === 'PLACED',
    );
  });

  it('fails a live job whose worker stopped heartbeating when it has no restarts left, and forgets the lost worker', async () => {
    await addWorker('w-a');
    await scheduler.start();
    const id = await submit(1, false, 0);
    await waitUntil('placement', async () => (await store.mustGet(id)).state === 'PLACED');
    await fx.redis.del(fx.keys.workerHeartbeat('w-a'));
    await waitUntil('the job to fail', async () => (await store.mustGet(id)).state === 'FAILED');
    const job = await store.mustGet(id);
    expect(job.error).toMatchObject({ code: 'TRAINYARD_ERR_RANK_FAILED', rank: 0, workerId: 'w-a' });
    expect(job.error!.message).toMatch(/stopped heartbeating/);
    await waitUntil(
      'the worker to be forgotten',
      async () => (await fx.redis.hexists(fx.keys.workers(), 'w-a')) === 0,
    );
  });

  it('restarts a generation whose worker was lost on other workers, up to maxRestarts, listing each restart', async () => {
    await addWorker('w-a');
    await addWorker('w-b');
    await scheduler.start();
    const id = await submit(1, false, 1);
    await waitUntil('placement', async () => (await store.mustGet(id)).state === 'PLACED');
    const first = (await store.mustGet(id)).placement![0]!.workerId;
    await fx.redis.del(fx.keys.workerHeartbeat(first));
    await waitUntil('generation 2', async () => (await store.mustGet(id)).generation === 2);
    const second = await store.mustGet(id);
    expect(second.state).toBe('PLACED');
    expect(second.placement![0]!.workerId).not.toBe(first);
    expect(second.restarts).toEqual([
      expect.objectContaining({ generation: 1, code: 'TRAINYARD_ERR_RANK_FAILED', rank: 0, workerId: first }),
    ]);
    const tasks = await tasksOf(second.placement![0]!.workerId);
    expect(tasks).toContainEqual({ jobId: id, generation: 2, rank: 0, world: 1 });
    // The second loss exhausts maxRestarts: 1.
    await fx.redis.del(fx.keys.workerHeartbeat(second.placement![0]!.workerId));
    await waitUntil('the job to fail', async () => (await store.mustGet(id)).state === 'FAILED');
    const failed = await store.mustGet(id);
    expect(failed.restarts).toHaveLength(1);
    // The restart and the final failure are counted apart (..._job_restarts_total, ..._job_failures_total).
    expect(await fx.redis.hgetall(fx.keys.restartCounts())).toEqual({ TRAINYARD_ERR_RANK_FAILED: '1' });
    expect(await fx.redis.hgetall(fx.keys.failureCounts())).toEqual({ TRAINYARD_ERR_RANK_FAILED: '1' });
    expect(failed.error).toMatchObject({
      code: 'TRAINYARD_ERR_RANK_FAILED',
      workerId: second.placement![0]!.workerId,
    });
    const states = (await store.readEvents(id, '0'))
      .filter((e) => e.event.type === 'state')
      .map((e) => (e.event as { state: string }).state);
    expect(states).toEqual(['QUEUED', 'PLACED', 'RESTARTING', 'PLACED', 'FAILED']);
  });

  it('lets only the leader of two replicas place (each job once), and the standby take over within one lease', async () => {
    const leaseMs = 1200;
    const leaderGauge = async (registry: Registry) =>
      (await registry.getSingleMetric('trainyard_scheduler_leader')!.get()).values[0]!.value;
    const replica = (schedulerId: string) => {
      const registry = createMetricsRegistry('scheduler', { defaultMetrics: false });
      const s = createScheduler({
        ...schedulerDeps(),
        metrics: createSchedulerMetrics(registry, fx.redis, fx.keys),
        schedulerId,
        leaseMs,
      });
      replicas.push(s);
      return { s, registry };
    };
    await addWorker('w-a');
    await addWorker('w-b');
    const one = replica('one');
    const two = replica('two');
    await one.s.start(); // the lease is free: leads at once
    await two.s.start();
    expect([one.s.leader, two.s.leader]).toEqual([true, false]);
    expect([await leaderGauge(one.registry), await leaderGauge(two.registry)]).toEqual([1, 0]);

    const first = await submit(1);
    await waitUntil(
      'the first job to be placed',
      async () => (await store.mustGet(first)).state === 'PLACED',
    );
    await two.s.tick(); // a standby's pass does nothing
    await one.s.tick();
    const states = (await store.readEvents(first, '0'))
      .filter((e) => e.event.type === 'state')
      .map((e) => (e.event as { state: string }).state);
    expect(states).toEqual(['QUEUED', 'PLACED']);
    expect((await store.mustGet(first)).generation).toBe(1);
    expect([...(await tasksOf('w-a')), ...(await tasksOf('w-b'))]).toEqual([
      { jobId: first, generation: 1, rank: 0, world: 1 },
    ]);

    // The leader stops (and releases the lease); a job submitted afterwards is placed by the standby.
    const closedAt = Date.now();
    await one.s.close();
    expect(await leaderGauge(one.registry)).toBe(0);
    const second = await submit(1);
    await waitUntil(
      'the second job to be placed',
      async () => (await store.mustGet(second)).state === 'PLACED',
    );
    expect(Date.now() - closedAt).toBeLessThan(leaseMs);
    expect(two.s.leader).toBe(true);
    expect(await leaderGauge(two.registry)).toBe(1);
    const busy = (await store.mustGet(first)).placement![0]!.workerId;
    expect((await store.mustGet(second)).placement!.map((p) => p.workerId)).toEqual([
      busy === 'w-a' ? 'w-b' : 'w-a',
    ]);
  });
});
