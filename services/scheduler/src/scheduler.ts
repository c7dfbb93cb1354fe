import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  closeRedis,
  Errors,
  isLive,
  JobStore,
  type Keys,
  type Logger,
  LuaScript,
  memberState,
  type PoolMember,
  type RankTask,
  type Redis,
  rankCounts,
  readPool,
  runCleanup,
  StoreResult,
  Submission,
} from '@trainyard/core';
import { type Job, Queue, Worker as QueueWorker } from 'bullmq';
import { LeaderLease } from './leader-lease.js';
import type { SchedulerMetrics } from './scheduler-metrics.js';

export interface SchedulerDeps {
  readonly redis: Redis;
  readonly connect: (name: string) => Redis;
  readonly keys: Keys;
  readonly logger: Logger;
  readonly metrics?: SchedulerMetrics;
  /** Placement also runs on every submission and at least this often. */
  readonly tickMs: number;
  /** A lost worker (heartbeat expired) holding no placement is forgotten after this long. */
  readonly forgetLostWorkerMs?: number;
  /** A live worker that stops running its rank of a RUNNING job for this long ends that generation. */
  readonly rankGoneGraceMs?: number;
  /** A live worker that has not started its rank of a PLACED job this long after placement ends that generation. */
  readonly rankStartGraceMs?: number;
  /** Unique among live replicas: the leader lease's value while this one leads. Default: host-pid-random. */
  readonly schedulerId?: string;
  /** Leader lease length (default 10 s): a standby takes over within this long after the leader dies. */
  readonly leaseMs?: number;
}

export type SchedulerState = 'created' | 'running' | 'closing' | 'closed';

export interface Scheduler {
  readonly state: SchedulerState;
  /** True while this replica holds the leader lease: only the leader consumes submissions and places. */
  readonly leader: boolean;
  start(): Promise<void>;
  /** One pass (leader only): release finished placements, fail jobs on lost workers, place what fits. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

// KEYS: 1 assignments hash. ARGV: 1 workerId, 2 expected "jobId:gen:rank".
// Returns 1 when released, 0 when the worker holds something else (or nothing).
const RELEASE = new LuaScript(
  'assignment-release',
  `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`,
);

const SWEEP_EVERY = 30;

/** Backends from fastest to slowest: a gang goes to the fastest backend that has room. */
const BACKEND_ORDER = ['tensorflow', 'wasm', 'cpu'];

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/**
 * `world` free workers for one job: all on one backend (the fastest that has room), or any
 * when the spec allows mixed backends. Null when no such gang exists now.
 */
export function chooseGang(
  free: readonly PoolMember[],
  world: number,
  allowMixed: boolean,
): PoolMember[] | null {
  if (free.length < world) return null;
  if (allowMixed) return free.slice(0, world);
  const groups = new Map<string, PoolMember[]>();
  for (const m of free) {
    const name = m.registration.backend.name;
    groups.set(name, [...(groups.get(name) ?? []), m]);
  }
  const rank = (name: string) =>
    BACKEND_ORDER.includes(name) ? BACKEND_ORDER.indexOf(name) : BACKEND_ORDER.length;
  const ordered = [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const fit = ordered.find(([, members]) => members.length >= world);
  return fit ? fit[1].slice(0, world) : null;
}

/**
 * The scheduler: keeps the pending set (from the submissions queue), the pool (from
 * heartbeats) and every placement. A job is placed only when all its ranks fit at once
 * (gang), oldest first; a job that does not fit does not block smaller ones behind it.
 * Every decision lives in Redis, so a restarted scheduler loses nothing. Replicas share a
 * leader lease: only the leader consumes submissions and runs passes; a standby waits and
 * takes over (within one lease) when the leader stops or dies.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { redis, keys, logger } = deps;
  const store = new JobStore(redis, keys);
  let state: SchedulerState = 'created';
  let submissionsWorker: QueueWorker | null = null;
  let submissionsConnection: Redis | null = null;
  const schedulerId = deps.schedulerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  let lease: LeaderLease | null = null;
  let leaseConnection: Redis | null = null;
  /** Leadership changes (start or stop consuming submissions), applied one at a time, in order. */
  let leadership: Promise<void> = Promise.resolve();
  const workerQueues = new Map<string, Queue>();
  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  let again = false;
  let closing: Promise<void> | null = null;
  const lostSince = new Map<string, number>();
  const notRunningSince = new Map<string, number>();
  const toldMixed = new Set<string>();

  const queueFor = (workerId: string): Queue => {
    let q = workerQueues.get(workerId);
    if (!q) {
      q = new Queue(keys.workerQueue(workerId), { connection: redis, prefix: keys.bullPrefix() });
      workerQueues.set(workerId, q);
    }
    return q;
  };

  const accept = async (job: Job) => {
    const sub = Submission.parse(job.data);
    const current = await store.getState(sub.jobId);
    if (!current) {
      logger.warn({ jobId: sub.jobId }, 'submission names no job; dropped');
      return;
    }
    if (current.state === 'QUEUED') {
      await redis.zadd(keys.pending(), 'NX', Date.parse(sub.submittedAt), sub.jobId);
      logger.info({ jobId: sub.jobId }, 'job pending');
      void runTick();
    }
  };

  /** Frees a placement once its job ended (or moved on) and the worker no longer runs it. */
  const release = async (pool: PoolMember[]) => {
    for (const m of pool) {
      const workerId = m.registration.workerId;
      if (m.heartbeat) lostSince.delete(workerId);
      else if (!m.assignment) {
        const since = lostSince.get(workerId) ?? Date.now();
        lostSince.set(workerId, since);
        if (Date.now() - since >= (deps.forgetLostWorkerMs ?? 60_000)) {
          await redis.hdel(keys.workers(), workerId);
          lostSince.delete(workerId);
          logger.info({ workerId }, 'lost worker forgotten');
        }
      }
      if (!m.assignment) continue;
      const [jobId, gen] = m.assignment.split(':');
      const s = await store.getState(jobId!);
      const over = !s || !isLive(s.state) || String(s.generation) !== gen;
      const stillRunning = m.heartbeat?.running === m.assignment;
      if (stillRunning) notRunningSince.delete(m.assignment);
      if (over && !stillRunning) {
        await RELEASE.run(redis, [keys.assignments()], [m.registration.workerId, m.assignment]);
        logger.info({ workerId: m.registration.workerId, assignment: m.assignment }, 'placement released');
      } else if (!over && s && m.heartbeat && !stillRunning) {
        // Alive, but not running its rank of a live generation. In RUNNING every rank has
        // joined, so the rank ended without ending the generation (e.g. its failure report was
        // lost while Redis restarted). In PLACED the rank task may still be on its way, but not
        // for a minute: then it was lost (e.g. the scheduler died between placing and
        // dispatching). Past the grace period, end the generation; it restarts.
        const grace =
          s.state === 'RUNNING' ? (deps.rankGoneGraceMs ?? 10_000) : (deps.rankStartGraceMs ?? 60_000);
        const since = notRunningSince.get(m.assignment) ?? Date.now();
        notRunningSince.set(m.assignment, since);
        if (Date.now() - since >= grace) {
          notRunningSince.delete(m.assignment);
          const r = await store.failGeneration(jobId!, s.generation, {
            code: Errors.RANK_FAILED.code,
            message:
              s.state === 'RUNNING'
                ? `worker ${m.registration.workerId} no longer runs its rank`
                : `worker ${m.registration.workerId} never started its rank`,
            rank: Number(m.assignment.split(':')[2]),
            workerId: m.registration.workerId,
            retryable: true,
          });
          if (r.result === StoreResult.OK)
            logger.warn({ jobId, state: r.state }, 'rank gone from a live worker');
        }
      } else if (!over && !m.heartbeat && s) {
        // The worker is gone while its rank's generation is live: that generation cannot
        // finish. It restarts from the latest checkpoint while restarts are left, else fails.
        const rank = Number(m.assignment.split(':')[2]);
        const r = await store.failGeneration(jobId!, s.generation, {
          code: Errors.RANK_FAILED.code,
          message: `worker ${m.registration.workerId} stopped heartbeating`,
          rank,
          workerId: m.registration.workerId,
          retryable: true,
        });
        if (r.result === StoreResult.OK)
          logger.warn({ jobId, state: r.state, workerId: m.registration.workerId }, 'worker lost');
        await RELEASE.run(redis, [keys.assignments()], [m.registration.workerId, m.assignment]);
      }
    }
  };

  const place = async (pool: PoolMember[]) => {
    const free = pool.filter((m) => memberState(m) === 'free');
    const pending = await redis.zrange(keys.pending(), 0, -1);
    // A restarting job waits out its backoff (`notBefore`, in Redis' clock: no host's skew counts).
    const [sec, usec] = await redis.time();
    const redisNowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    for (const jobId of pending) {
      if (!lease?.isLeader) return; // stepped down mid-pass (local view; no Redis call)
      const job = await store.get(jobId);
      if (job?.state !== 'QUEUED' && job?.state !== 'RESTARTING') {
        await redis.zrem(keys.pending(), jobId);
        continue;
      }
      if (job.state === 'RESTARTING' && Number(await redis.hget(keys.job(jobId), 'notBefore')) > redisNowMs)
        continue;
      // The largest rank count that fits now (a fixed-size job has one); backfill: a job
      // that does not fit does not hold the smaller ones behind it.
      const counts = rankCounts(job.spec);
      let gang: PoolMember[] | null = null;
      for (const w of counts) {
        gang = w <= free.length ? chooseGang(free, w, job.spec.allowMixedBackends) : null;
        if (gang) break;
      }
      const world = counts.at(-1)!;
      if (world > free.length) continue;
      if (!gang) {
        if (!toldMixed.has(jobId)) {
          toldMixed.add(jobId);
          const byBackend = countBy(free, (m) => m.registration.backend.name);
          await store.appendEvent(jobId, {
            type: 'log',
            ts: new Date().toISOString(),
            generation: job.generation,
            level: 'warn',
            message:
              `waiting: ${free.length} free workers, but no ${world} on one backend ` +
              `(${Object.entries(byBackend)
                .map(([b, n]) => `${b}: ${n}`)
                .join(', ')}); ` +
              'set allowMixedBackends to run across backends',
          });
        }
        continue;
      }
      const chosen = gang.map((m) => m.registration.workerId);
      const t0 = performance.now();
      const waitingSince = Number(await redis.zscore(keys.pending(), jobId));
      const placed = await store.place(jobId, chosen);
      if (placed.result !== StoreResult.OK) {
        logger.info({ jobId, placed }, 'placement not applied');
        continue;
      }
      for (const m of gang) free.splice(free.indexOf(m), 1);
      toldMixed.delete(jobId);
      const generation = placed.generation!;
      await Promise.all(
        chosen.map((workerId, rank) => {
          const task: RankTask = { jobId, generation, rank, world };
          return queueFor(workerId).add('rank', task, {
            jobId: `${jobId}.${generation}.${rank}`,
            attempts: 1,
            removeOnComplete: { age: 86_400 },
            removeOnFail: { age: 86_400 },
          });
        }),
      );
      deps.metrics?.placementSeconds.observe((performance.now() - t0) / 1000);
      if (waitingSince > 0)
        deps.metrics?.queueWaitSeconds.observe(Math.max(0, Date.now() - waitingSince) / 1000);
      deps.metrics?.placements.inc();
      logger.info({ jobId, generation, workers: chosen }, 'job placed');
    }
  };

  /**
   * Adds to the pending set every QUEUED job that is not in it: a submission whose enqueue
   * was lost (the api crashed between writing the record and adding the queue job) is
   * still scheduled. Runs at start and every SWEEP_EVERY passes.
   */
  const sweepQueued = async () => {
    const ids = await redis.zrange(keys.jobIndex(), 0, -1);
    if (ids.length === 0) return;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(keys.job(id), 'state', 'createdAt');
    const replies = (await pipeline.exec()) ?? [];
    for (const [i, [, value]] of replies.entries()) {
      const [state, createdAt] = (value as [string | null, string | null]) ?? [null, null];
      if (state === 'QUEUED' && createdAt) {
        const added = await redis.zadd(keys.pending(), 'NX', Date.parse(createdAt), ids[i]!);
        if (added > 0)
          logger.warn({ jobId: ids[i] }, 'QUEUED job found outside the pending set; now pending');
      }
    }
  };

  let passes = 0;
  const tickOnce = async () => {
    // Only the leader acts, and it checks with Redis (GET lease key === our id) before the
    // pass and again right before placing. This is a fenced check, not a fence: the lease
    // can still run out between the GET and a write (a pause longer than what is left of it),
    // so for a moment two replicas may both act. That is safe because every write here is
    // an idempotent Lua script that checks current state: JobStore.place requires the job
    // QUEUED/RESTARTING and every chosen worker unassigned, so the second placement of a job
    // (or of a worker) is a no-op and only the replica whose place() applied dispatches rank
    // tasks; failGeneration checks the generation; releases compare the assignment; the
    // pending set is written with ZADD NX.
    if (!(await lease?.holds())) return;
    if (passes++ % SWEEP_EVERY === 0) await sweepQueued();
    let pool = await readPool(redis, keys);
    await release(pool);
    pool = await readPool(redis, keys);
    if (!(await lease?.holds())) return;
    await place(pool);
  };

  /** On becoming leader: consume submissions and run a pass (a sweep first) at once. */
  const startLeading = async () => {
    if (state !== 'running' || !lease?.isLeader || submissionsWorker) return;
    submissionsConnection = deps.connect('scheduler-submissions');
    submissionsWorker = new QueueWorker(keys.submissionsQueue(), accept, {
      connection: submissionsConnection,
      prefix: keys.bullPrefix(),
      concurrency: 1,
    });
    submissionsWorker.on('error', (err) => logger.error({ err }, 'submissions queue error'));
    passes = 0;
    void runTick();
    logger.info({ schedulerId }, 'leading: consuming submissions and placing');
  };

  /** On losing leadership (or closing): stop consuming submissions. */
  const stopLeading = async () => {
    const worker = submissionsWorker;
    const connection = submissionsConnection;
    submissionsWorker = null;
    submissionsConnection = null;
    if (!worker) return;
    await runCleanup(
      [
        { name: 'submissions worker', run: () => worker.close() },
        { name: 'submissions connection', run: () => connection && closeRedis(connection) },
      ],
      logger,
    );
    logger.info({ schedulerId }, 'standing by: no longer consuming submissions');
  };

  const changeLeadership = (change: () => Promise<void>): Promise<void> => {
    leadership = leadership
      .then(change)
      .catch((err: unknown) => logger.error({ err }, 'leadership change failed'));
    return leadership;
  };

  /** Coalesces concurrent triggers into at most one running pass plus one queued pass. */
  const runTick = (): Promise<void> => {
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = (async () => {
      do {
        again = false;
        try {
          await tickOnce();
        } catch (err) {
          logger.error({ err }, 'scheduling pass failed');
        }
      } while (again && state === 'running');
    })().finally(() => {
      ticking = null;
    });
    return ticking;
  };

  return {
    get state() {
      return state;
    },
    get leader() {
      return lease?.isLeader ?? false;
    },
    tick: runTick,

    async start() {
      if (state !== 'created') throw new Error(`scheduler cannot start from state ${state}`);
      state = 'running';
      leaseConnection = deps.connect('scheduler-lease');
      lease = new LeaderLease({
        redis: leaseConnection,
        key: keys.schedulerLeader(),
        holderId: schedulerId,
        leaseMs: deps.leaseMs ?? 10_000,
        logger,
        onAcquire: () => {
          deps.metrics?.leader.set(1);
          void changeLeadership(startLeading);
        },
        onLose: () => {
          deps.metrics?.leader.set(0);
          void changeLeadership(stopLeading);
        },
      });
      timer = setInterval(() => void runTick(), deps.tickMs);
      // Leads at once when the lease is free (and its submissions worker is running on return).
      await lease.start();
      await leadership;
      logger.info({ schedulerId, leader: lease.isLeader }, 'scheduler started');
    },

    close() {
      closing ??= (async () => {
        state = 'closing';
        if (timer) clearInterval(timer);
        await runCleanup(
          [
            { name: 'submissions worker', run: () => changeLeadership(stopLeading) },
            { name: 'pending pass', run: async () => ticking },
            // Released only once this replica stopped acting: a standby then leads within leaseMs/3.
            { name: 'leader lease', run: async () => lease?.close() },
            { name: 'leadership changes', run: () => leadership },
            {
              name: 'worker queues',
              run: async () => Promise.all([...workerQueues.values()].map((q) => q.close())),
            },
            { name: 'lease connection', run: async () => leaseConnection && closeRedis(leaseConnection) },
          ],
          logger,
        );
        deps.metrics?.leader.set(0);
        state = 'closed';
      })();
      return closing;
    },
  };
}
