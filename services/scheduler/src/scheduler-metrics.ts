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

/** How long a scrape waits for Redis before it reports the last values it read. */
const COLLECT_TIMEOUT_MS = 2_000;

/**
 * Runs a gauge's Redis reads with a deadline, so a scrape while Redis is down or stalled
 * still answers (with the gauge's previous values, and the process metrics) instead of hanging.
 */
async function bounded(read: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    read().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

export interface SchedulerMetrics {
  /** 1 while this replica holds the leader lease, else 0. */
  readonly leader: Gauge;
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
      await bounded(async () => this.set(await redis.zcard(keys.pending())));
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_jobs',
    help: 'Jobs by state (the 1,000 most recent jobs)',
    labelNames: ['state'],
    registers,
    async collect() {
      await bounded(async () => {
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
      });
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_workers',
    help: 'Registered workers by state (free, busy, lost)',
    labelNames: ['state'],
    registers,
    async collect() {
      await bounded(async () => {
        const counts: Record<string, number> = { free: 0, busy: 0, lost: 0 };
        for (const m of await readPool(redis, keys)) counts[memberState(m)]!++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      });
    },
  });
  const leader = new Gauge({
    name: 'trainyard_scheduler_leader',
    help: '1 while this scheduler replica holds the leader lease (and places), else 0',
    registers,
  });
  leader.set(0);
  return {
    leader,
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
