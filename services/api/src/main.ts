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
  JobStore,
  type Submission,
} from '@trainyard/core';
import { Queue } from 'bullmq';
import { API_DEFAULTS, buildApp } from './app.js';
import { loadApiConfig } from './config.js';
import { closeAppWithGrace } from './shutdown.js';

// Wiring only: config -> dependencies -> listen -> signal handlers.
const config = configOrExit('api', () => loadApiConfig(process.env));
const logger = createLogger('api', config.logLevel);
const keys = createKeys(config.prefix);
// A few retries, then fail the request with 503 REDIS_UNAVAILABLE rather than hold it until
// Redis returns; a Redis that is connected but silent fails the command after 5 s.
const redis = createRedis(config.redisUrl, 'trainyard-api', {
  maxRetriesPerRequest: 2,
  commandTimeout: 5_000,
});
// Refuse a Redis that may evict job records or queue keys, naming the setting.
await assertSafeEvictionPolicy(redis, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'refusing to start');
  process.exit(1);
});
redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
const submissions = new Queue<Submission>(keys.submissionsQueue(), {
  connection: redis,
  prefix: keys.bullPrefix(),
});
submissions.on('error', (err) => logger.warn({ err }, 'submissions queue error'));
const app = buildApp({
  redis,
  keys,
  store: new JobStore(redis, keys),
  submissions,
  logger,
  metrics: createMetricsRegistry('api'),
  bodyLimit: config.bodyLimitBytes,
  sseHeartbeatMs: config.sseHeartbeatMs,
  readyTimeoutMs: config.readyTimeoutMs,
  apiKeys: config.apiKeys,
  // Event streams block on XREAD for up to sseBlockMs: their connections wait that much longer.
  openEventsConnection: () => redis.duplicate({ commandTimeout: API_DEFAULTS.sseBlockMs + 5_000 }),
});

const shutdown = createShutdown(
  [
    { name: 'http', run: () => closeAppWithGrace(app, config.shutdownGraceMs) },
    { name: 'submissions queue', run: () => submissions.close() },
    { name: 'redis', run: () => closeRedis(redis) },
  ],
  logger,
);
exitOnSignals(shutdown, config.shutdownGraceMs + 5_000);

try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  logger.fatal({ err }, 'api failed to start');
  await shutdown('start failed');
  process.exit(1);
}
