import { hostname } from 'node:os';
import { BaseConfig, compileConfig, port, positiveMs } from '@trainyard/core';
import { z } from 'zod';

export const SchedulerConfig = BaseConfig.extend({
  SCHEDULER_TICK_MS: positiveMs.default(1000),
  /** A worker whose heartbeat expired and that holds no placement is dropped from the pool after this long. */
  SCHEDULER_FORGET_LOST_WORKER_MS: positiveMs.default(60_000),
  /** A live worker that stops running its rank of a RUNNING job this long ends the generation. */
  SCHEDULER_RANK_GONE_GRACE_MS: positiveMs.default(10_000),
  /** A live worker that has not started its rank of a PLACED job this long ends the generation. */
  SCHEDULER_RANK_START_GRACE_MS: positiveMs.default(60_000),
  /** Leader lease: renewed every third of it; a standby takes over within it after the leader dies. */
  SCHEDULER_LEASE_MS: positiveMs.min(1000, 'must be at least 1000').default(10_000),
  /** This replica's holder id in the leader lease; must be unique among live replicas. */
  SCHEDULER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'may hold letters, digits, _ . - only (1-128)')
    .default(() => `${hostname()}-${process.pid}`),
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** 0 picks a free port. */
  METRICS_PORT: port.default(0),
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

export function loadSchedulerConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<SchedulerConfig> {
  return compileConfig(SchedulerConfig, env);
}
