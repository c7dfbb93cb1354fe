import { hostname } from 'node:os';
import {
  type BackendInfo,
  closeRedis,
  isLive,
  JobStore,
  type Keys,
  type Logger,
  RankTask,
  type Redis,
  runCleanup,
  type WorkerRegistration,
} from '@trainyard/core';
import type { TrainTestData } from '@trainyard/data';
import type { ObjectStore } from '@trainyard/storage';
import { type Job, Worker as QueueWorker } from 'bullmq';
import { type Heartbeat, startHeartbeat } from './heartbeat.js';
import { type RankOutcome, runRank } from './rank-runner.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface WorkerDeps {
  readonly workerId: string;
  /** The heartbeat thread opens its own connection to this Redis. */
  readonly redisUrl: string;
  readonly redis: Redis;
  /** Makes a new connection (BullMQ's blocking connection, the collective's). */
  readonly connect: (name: string) => Redis;
  readonly keys: Keys;
  readonly objects: ObjectStore;
  readonly backend: BackendInfo;
  readonly logger: Logger;
  readonly metrics?: WorkerMetrics;
  readonly metricsUrl?: string | null;
  readonly heartbeatMs: number;
  readonly heartbeatTtlMs: number;
  /** BullMQ's lock on a task while it is being accepted (tests shorten it). */
  readonly queueLockMs?: number;
  /** On close, how long a running rank may take to reach a checkpoint and hand over (default 60 s). */
  readonly drainGraceMs?: number;
  /** How often a running rank checks whether its job ended elsewhere (cancel). */
  readonly watchMs?: number;
  readonly loadData?: (spec: import('@trainyard/core').JobRecord['spec']['dataset']) => TrainTestData;
}

export type WorkerState = 'created' | 'running' | 'closing' | 'closed';

export interface TrainyardWorker {
  readonly state: WorkerState;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One pod's agent: registers with its capacity and backend, heartbeats (from a thread of
 * its own, so a long step cannot starve it), takes rank tasks
 * from its own BullMQ queue one at a time, runs each with runRank, and stops a rank within
 * seconds when its job is cancelled.
 */
export function createWorker(deps: WorkerDeps): TrainyardWorker {
  const { keys, redis, logger, workerId } = deps;
  const store = new JobStore(redis, keys);
  const log = logger.child({ workerId });
  let state: WorkerState = 'created';
  let heartbeat: Heartbeat | null = null;
  let queueWorker: QueueWorker | null = null;
  let queueConnection: Redis | null = null;
  let rankConnection: Redis | null = null;
  const stopAll = new AbortController();
  let draining = false;
  let closing: Promise<void> | null = null;

  let current: Promise<unknown> | null = null;

  /**
   * Takes a rank task off the queue: stops fetching (one rank at a time), reports the rank as
   * running, starts it, and completes the queue task at once. The rank's liveness is its
   * heartbeat; no queue lock has to be renewed while a step holds the event loop, so a task
   * is never seen as stalled nor delivered twice, however long a step takes.
   */
  const accept = async (job: Job): Promise<string> => {
    const task = RankTask.parse(job.data);
    await queueWorker!.pause(true);
    deps.metrics?.rankRunning.set(1);
    await heartbeat?.setRunning(`${task.jobId}:${task.generation}:${task.rank}`);
    current = runTask(task)
      .catch((err: unknown) => log.error({ err, task }, 'rank task failed'))
      .finally(() => {
        current = null;
        if (state === 'running') queueWorker?.resume();
      });
    return 'started';
  };

  const runTask = async (task: RankTask): Promise<RankOutcome> => {
    const abort = new AbortController();
    const onStop = () => abort.abort(new Error('worker is shutting down'));
    stopAll.signal.addEventListener('abort', onStop);
    const watch = setInterval(() => {
      store
        .getState(task.jobId)
        .then((s) => {
          if (!s || !isLive(s.state) || s.generation !== task.generation) {
            abort.abort(new Error(`job is ${s?.state ?? 'gone'} (generation ${s?.generation})`));
          }
        })
        .catch(() => {});
    }, deps.watchMs ?? 500);
    try {
      const outcome = await runRank({
        task,
        workerId,
        redis: rankConnection!,
        keys,
        store,
        objects: deps.objects,
        backend: deps.backend,
        logger: log,
        signal: abort.signal,
        draining: () => draining,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        ...(deps.loadData ? { loadData: deps.loadData } : {}),
      });
      deps.metrics?.ranks.inc({ outcome });
      log.info({ jobId: task.jobId, rank: task.rank, outcome }, 'rank ended');
      return outcome;
    } finally {
      clearInterval(watch);
      stopAll.signal.removeEventListener('abort', onStop);
      deps.metrics?.rankRunning.set(0);
      await heartbeat?.setRunning(null);
    }
  };

  const agent: TrainyardWorker = {
    get state() {
      return state;
    },

    async start() {
      if (state !== 'created') throw new Error(`worker ${workerId} cannot start from state ${state}`);
      state = 'running';
      const registration: WorkerRegistration = {
        workerId,
        host: hostname(),
        pid: process.pid,
        slots: 1,
        backend: deps.backend,
        metricsUrl: deps.metricsUrl ?? null,
        registeredAt: new Date().toISOString(),
      };
      heartbeat = await startHeartbeat(
        {
          redisUrl: deps.redisUrl,
          workerId,
          workersKey: keys.workers(),
          heartbeatKey: keys.workerHeartbeat(workerId),
          registration: JSON.stringify(registration),
          intervalMs: deps.heartbeatMs,
          ttlMs: deps.heartbeatTtlMs,
        },
        (err) => {
          log.fatal({ err }, 'the heartbeat thread died; this worker can no longer show it is alive');
          void agent.close();
        },
      );
      rankConnection = deps.connect(`worker-${workerId}-rank`);
      queueConnection = deps.connect(`worker-${workerId}-queue`);
      queueWorker = new QueueWorker(keys.workerQueue(workerId), accept, {
        connection: queueConnection,
        prefix: keys.bullPrefix(),
        concurrency: 1,
        lockDuration: deps.queueLockMs ?? 30_000,
        stalledInterval: deps.queueLockMs ?? 30_000,
        maxStalledCount: 0,
      });
      queueWorker.on('error', (err) => log.error({ err }, 'queue error'));
      queueWorker.on('failed', (job, err) => log.error({ err, task: job?.data }, 'rank task failed'));
      log.info({ backend: deps.backend, metricsUrl: deps.metricsUrl }, 'worker registered');
    },

    close() {
      closing ??= (async () => {
        if (state === 'closed') return;
        state = 'closing';
        // Drain: a running rank checkpoints at its next step boundary (with its peers) and
        // hands the job to other workers; past the grace period it is stopped as it stands.
        draining = true;
        const queueClosed = queueWorker?.close() ?? Promise.resolve();
        let graceTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([queueClosed.catch(() => {}), current]),
          new Promise<void>((resolve) => {
            graceTimer = setTimeout(resolve, deps.drainGraceMs ?? 60_000);
          }),
        ]);
        clearTimeout(graceTimer);
        stopAll.abort();
        await current;
        await runCleanup(
          [
            { name: 'queue worker', run: async () => queueClosed },
            { name: 'heartbeat and registration', run: async () => heartbeat?.stop(true) },
            { name: 'queue connection', run: async () => queueConnection && closeRedis(queueConnection) },
            { name: 'rank connection', run: async () => rankConnection && closeRedis(rankConnection) },
          ],
          log,
        );
        state = 'closed';
      })();
      return closing;
    },
  };
  return agent;
}
