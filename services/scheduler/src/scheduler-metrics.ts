import {
  Counter,
  DURATION_BUCKETS_SECONDS,
  Gauge,
  Histogram,
  JOB_STATES,
  type Keys,
  memberState,
  type Redis,
  type Registry,
  readPool,
} from '@trainyard/core';

export interface SchedulerMetrics {
  readonly placements: Counter;
  readonly placementSeconds: Histogram;
}

/**
 * Scheduler metrics. Gauges that describe the cluster (queue depth, jobs by state, pool by
 * state) are read from Redis at scrape time, so any scheduler replica reports the truth.
 */
export function createSchedulerMetrics(registry: Registry, redis: Redis, keys: Keys): SchedulerMetrics {
  const registers = [registry];
  new Gauge({
    name: 'trainyard_scheduler_queue_depth',
    help: 'Jobs submitted and waiting for placement',
    registers,
    async collect() {
      this.set(await redis.zcard(keys.pending()));
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_jobs',
    help: 'Jobs by state (the 1,000 most recent jobs)',
    labelNames: ['state'],
    registers,
    async collect() {
      const ids = await redis.zrevrange(keys.jobIndex(), 0, 999);
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<string, number>;
      if (ids.length > 0) {
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hget(keys.job(id), 'state');
        for (const [, state] of (await pipeline.exec()) ?? []) {
          if (typeof state === 'string' && state in counts) counts[state]!++;
        }
      }
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_workers',
    help: 'Registered workers by state (free, busy, lost)',
    labelNames: ['state'],
    registers,
    async collect() {
      const counts: Record<string, number> = { free: 0, busy: 0, lost: 0 };
      for (const m of await readPool(redis, keys)) counts[memberState(m)]!++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  return {
    placements: new Counter({
      name: 'trainyard_scheduler_placements_total',
      help: 'Jobs placed on a gang of workers',
      registers,
    }),
    placementSeconds: new Histogram({
      name: 'trainyard_scheduler_placement_duration_seconds',
      help: 'Time to place one job and dispatch its rank tasks',
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    }),
  };
}
