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
import { initBackend } from '@trainyard/engine';
import { FsObjectStore, S3ObjectStore } from '@trainyard/storage';
import { loadWorkerConfig } from './config.js';
import { createWorker } from './worker-agent.js';
import { createWorkerMetrics } from './worker-metrics.js';

// Wiring only: config -> dependencies -> start -> signal handlers.
const config = configOrExit('worker', () => loadWorkerConfig());
const logger = createLogger('worker', config.LOG_LEVEL);
const backend = await initBackend(config.TRAINYARD_BACKEND);
const registry = createMetricsRegistry('worker');
const metrics = createWorkerMetrics(registry, { jobSeriesLingerMs: config.METRICS_JOB_LINGER_MS });
metrics.backendInfo.set({ backend: backend.name, version: backend.version }, 1);
const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.METRICS_PORT);
const redis = createRedis(config.REDIS_URL, `worker-${config.WORKER_ID}`);
// Refuse a Redis that may evict job records or queue keys, naming the setting.
await assertSafeEvictionPolicy(redis, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'refusing to start');
  process.exit(1);
});
const worker = createWorker({
  workerId: config.WORKER_ID,
  redisUrl: config.REDIS_URL,
  redis,
  connect: (name) => createRedis(config.REDIS_URL, name),
  keys: createKeys(config.TRAINYARD_PREFIX),
  objects: config.S3_BUCKET
    ? new S3ObjectStore({
        bucket: config.S3_BUCKET,
        region: config.S3_REGION,
        prefix: config.S3_PREFIX,
        maxAttempts: config.S3_MAX_ATTEMPTS,
        connectionTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
        requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
        multipartThresholdBytes: config.S3_MULTIPART_THRESHOLD_BYTES,
        partSizeBytes: config.S3_PART_SIZE_BYTES,
        ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
        ...(config.S3_FORCE_PATH_STYLE ? { forcePathStyle: config.S3_FORCE_PATH_STYLE === 'true' } : {}),
        ...(config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID } : {}),
        ...(config.S3_SECRET_ACCESS_KEY ? { secretAccessKey: config.S3_SECRET_ACCESS_KEY } : {}),
      })
    : new FsObjectStore(config.TRAINYARD_STORE_DIR),
  backend,
  logger,
  metrics,
  metricsUrl: metricsServer.url,
  heartbeatMs: config.HEARTBEAT_MS,
  heartbeatTtlMs: config.HEARTBEAT_TTL_MS,
  drainGraceMs: config.WORKER_DRAIN_GRACE_MS,
});
await worker.start();

exitOnSignals(
  createShutdown(
    [
      { name: 'worker', run: () => worker.close() },
      {
        name: 'metrics server',
        run: () => {
          metrics.close();
          return metricsServer.close();
        },
      },
      { name: 'redis', run: () => closeRedis(redis) },
    ],
    logger,
  ),
  config.WORKER_DRAIN_GRACE_MS + 15_000,
);
