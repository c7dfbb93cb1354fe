import {
  Counter,
  DURATION_BUCKETS_SECONDS,
  Errors,
  Gauge,
  Histogram,
  JOB_STATES,
  type Keys,
  memberState,
  QUEUE_WAIT_BUCKETS_SECONDS,
  type Redis,
  type Registry,
  readPool,
} from '@trainyard/core';

/** Codes a generation can restart with: the retryable ones, and INTERNAL (an unexpected error in a rank is retried). */
const RESTART_CODES = Object.values(Errors)
  .filter((e) => e.retryable || e === Errors.INTERNAL)
  .map((e) => e.code);

const ALL_CODES = Object.values(Errors).map((e) => e.code);

/**
 * A counter by error code whose values live in a Redis hash (written by JobStore's Lua), so
 * every replica reports the cluster's totals. Every code in `codes` is exported from 0, so
 * dashboards and increase() see a series before the first event.
 */
function countsFromRedis(
  registry: Registry,
  name: string,
  help: string,
  codes: readonly string[],
  read: () => Promise<Record<string, string>>,
): void {
  new Counter({
    name,
    help,
    labelNames: ['code'],
    registers: [registry],
    async collect() {
      await bounded(async () => {
        const counts = await read();
        this.reset();
        for (const code of codes) this.inc({ code }, 0);
        for (const [code, n] of Object.entries(counts)) this.inc({ code }, Number(n));
      });
    },
  });
}

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

interface JobsSnapshot {
  readonly counts: Record<string, number>;
  /** [jobId, updatedAt ms] of every RUNNING job. */
  readonly running: [string, number][];
}

/** States of the 1,000 most recent jobs, and when each RUNNING one last changed. */
async function readJobs(redis: Redis, keys: Keys): Promise<JobsSnapshot> {
  const ids = await redis.zrevrange(keys.jobIndex(), 0, 999);
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<string, number>;
  const running: [string, number][] = [];
  if (ids.length > 0) {
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(keys.job(id), 'state', 'updatedAt');
    for (const [i, [, value]] of ((await pipeline.exec()) ?? []).entries()) {
      const [state, updatedAt] = (value as [string | null, string | null] | null) ?? [null, null];
      if (typeof state === 'string' && state in counts) counts[state]!++;
      if (state === 'RUNNING' && updatedAt) running.push([ids[i]!, Date.parse(updatedAt)]);
    }
  }
  return { counts, running };
}

export interface SchedulerMetrics {
  /** 1 while this replica holds the leader lease, else 0. */
  readonly leader: Gauge;
  readonly placements: Counter;
  readonly placementSeconds: Histogram;
  /** From entering the pending set (submission or restart) to placement. */
  readonly queueWaitSeconds: Histogram;
}

/**
 * Scheduler metrics. Gauges that describe the cluster (queue depth, jobs by state, pool by
 * state) are read from Redis at scrape time, so any scheduler replica reports the truth.
 */
export function createSchedulerMetrics(registry: Registry, redis: Redis, keys: Keys): SchedulerMetrics {
  const registers = [registry];
  new Gauge({
    name: 'trainyard_scheduler_queue_depth',
    help: 'Jobs waiting for placement (submitted, or restarting after a failed generation)',
    registers,
    async collect() {
      await bounded(async () => this.set(await redis.zcard(keys.pending())));
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_queue_oldest_wait_seconds',
    help: 'How long the job that has waited longest for placement has waited (0 when none waits)',
    registers,
    async collect() {
      await bounded(async () => {
        const [, score] = await redis.zrange(keys.pending(), 0, 0, 'WITHSCORES');
        this.set(score === undefined ? 0 : Math.max(0, (Date.now() - Number(score)) / 1000));
      });
    },
  });
  // One read of the recent jobs per scrape serves both gauges below: their collects start
  // together, so the second finds the first's read in flight.
  let inFlight: Promise<JobsSnapshot> | null = null;
  const jobsSnapshot = (): Promise<JobsSnapshot> => {
    if (!inFlight) {
      const read = readJobs(redis, keys);
      inFlight = read;
      const done = () => {
        if (inFlight === read) inFlight = null;
      };
      read.then(done, done);
    }
    return inFlight;
  };
  new Gauge({
    name: 'trainyard_scheduler_jobs',
    help: 'Jobs by state (the 1,000 most recent jobs)',
    labelNames: ['state'],
    registers,
    async collect() {
      await bounded(async () => {
        const { counts } = await jobsSnapshot();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      });
    },
  });
  new Gauge({
    name: 'trainyard_scheduler_job_progress_age_seconds',
    help: 'Per RUNNING job: seconds since its record last changed (a step, a checkpoint, a start); the series ends with the job',
    labelNames: ['job_id'],
    registers,
    async collect() {
      await bounded(async () => {
        const { running } = await jobsSnapshot();
        // Series of jobs that stopped running disappear at once.
        this.reset();
        const now = Date.now();
        for (const [job, at] of running) this.set({ job_id: job }, Math.max(0, (now - at) / 1000));
      });
    },
  });
  countsFromRedis(
    registry,
    'trainyard_scheduler_job_restarts_total',
    'Generations that failed and restarted from a checkpoint, by error code (cluster-wide, kept in Redis)',
    RESTART_CODES,
    () => redis.hgetall(keys.restartCounts()),
  );
  countsFromRedis(
    registry,
    'trainyard_scheduler_job_failures_total',
    'Jobs that ended FAILED, by error code (cluster-wide, kept in Redis)',
    ALL_CODES,
    () => redis.hgetall(keys.failureCounts()),
  );
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
    queueWaitSeconds: new Histogram({
      name: 'trainyard_scheduler_queue_wait_seconds',
      help: 'Time a job waited for placement, from submission (or from its restart) to being placed',
      buckets: QUEUE_WAIT_BUCKETS_SECONDS,
      registers,
    }),
  };
}
