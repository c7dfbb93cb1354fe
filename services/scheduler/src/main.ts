import {
  assertSafeEvictionPolicy,
  closeRedis,
  configOrExit,
  createKeys,
  createLogger,
  createMetricsRegistry,
  createRedis,
  createShutdown,
  exitOnSignals,
  serveMetrics,
} from '@trainyard/core';
import { loadSchedulerConfig } from './config.js';
import { createScheduler } from './scheduler.js';
import { createSchedulerMetrics } from './scheduler-metrics.js';

// Wiring only: config -> dependencies -> start -> signal handlers.
const config = configOrExit('scheduler', () => loadSchedulerConfig());
const logger = createLogger('scheduler', config.LOG_LEVEL);
const keys = createKeys(config.TRAINYARD_PREFIX);
const redis = createRedis(config.REDIS_URL, 'scheduler');
// Refuse a Redis that may evict job records or queue keys, naming the setting.
await assertSafeEvictionPolicy(redis, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'refusing to start');
  process.exit(1);
});
const registry = createMetricsRegistry('scheduler');
const metrics = createSchedulerMetrics(registry, redis, keys);
const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.METRICS_PORT);
const scheduler = createScheduler({
  redis,
  connect: (name) => createRedis(config.REDIS_URL, name),
  keys,
  logger,
  metrics,
  tickMs: config.SCHEDULER_TICK_MS,
  forgetLostWorkerMs: config.SCHEDULER_FORGET_LOST_WORKER_MS,
  rankGoneGraceMs: config.SCHEDULER_RANK_GONE_GRACE_MS,
  rankStartGraceMs: config.SCHEDULER_RANK_START_GRACE_MS,
  schedulerId: config.SCHEDULER_ID,
  leaseMs: config.SCHEDULER_LEASE_MS,
});
await scheduler.start();
logger.info({ metricsUrl: metricsServer.url }, 'metrics served');

exitOnSignals(
  createShutdown(
    [
      { name: 'scheduler', run: () => scheduler.close() },
      { name: 'metrics server', run: () => metricsServer.close() },
      { name: 'redis', run: () => closeRedis(redis) },
    ],
    logger,
  ),
);
