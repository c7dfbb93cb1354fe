import { createHash } from 'node:crypto';

/**
 * Every Redis key and BullMQ queue name Trainyard uses is built here, from one prefix.
 * Nothing else concatenates key strings. Keys that a Lua script touches together share a
 * hash tag ({...}) so that they live in one Redis Cluster slot.
 */
export interface Keys {
  readonly prefix: string;
  /** Hash: the job record. */
  job(jobId: string): string;
  /** Stream: the job's events (state changes, progress, checkpoints). */
  jobEvents(jobId: string): string;
  /** Sorted set: every job id, scored by creation time. */
  jobIndex(): string;
  /** String: jobId that an Idempotency-Key already created (per tenant). */
  idempotency(tenant: string, key: string): string;
  /** Sorted set: jobs waiting for placement, scored by submission time. */
  pending(): string;
  /** Hash: workerId -> registration JSON. */
  workers(): string;
  /** String with a TTL: present while the worker heartbeats; JSON of its live status. */
  workerHeartbeat(workerId: string): string;
  /** Hash: workerId -> "jobId:generation:rank" for every placed rank. */
  assignments(): string;
  /** String with a TTL (PX): the holder id of the scheduler replica that leads (the leader lease). */
  schedulerLeader(): string;
  /** Hash: error code -> generations restarted for it, ever (trainyard_scheduler_job_restarts_total). */
  restartCounts(): string;
  /** Hash: error code -> jobs that FAILED with it, ever (trainyard_scheduler_job_failures_total). */
  failureCounts(): string;
  /** Prefix for one collective group (job, generation); the collective adds the rest. */
  collectiveGroup(jobId: string, generation: number): string;
  /** BullMQ prefix for every queue. */
  bullPrefix(): string;
  /** BullMQ queue of submissions (api -> scheduler). */
  submissionsQueue(): string;
  /** BullMQ queue of rank tasks for one worker (scheduler -> worker). */
  workerQueue(workerId: string): string;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export function assertSafeId(kind: string, id: string): void {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid ${kind} id ${JSON.stringify(id)}`);
}

export function createKeys(prefix = 'trainyard'): Keys {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new Error(`invalid key prefix ${JSON.stringify(prefix)}`);
  return Object.freeze({
    prefix,
    job: (jobId: string) => `${prefix}:{job.${jobId}}:record`,
    jobEvents: (jobId: string) => `${prefix}:{job.${jobId}}:events`,
    jobIndex: () => `${prefix}:jobs`,
    idempotency: (tenant: string, key: string) =>
      `${prefix}:idem:${tenant}:${createHash('sha256').update(key).digest('hex')}`,
    pending: () => `${prefix}:sched:pending`,
    workers: () => `${prefix}:workers`,
    workerHeartbeat: (workerId: string) => `${prefix}:worker:${workerId}:heartbeat`,
    assignments: () => `${prefix}:sched:assignments`,
    schedulerLeader: () => `${prefix}:sched:leader`,
    restartCounts: () => `${prefix}:stats:restarts`,
    failureCounts: () => `${prefix}:stats:failures`,
    collectiveGroup: (jobId: string, generation: number) => `${prefix}:coll:${jobId}.${generation}`,
    bullPrefix: () => `${prefix}-bull`,
    submissionsQueue: () => 'submissions',
    workerQueue: (workerId: string) => `worker-${workerId}`,
  });
}
