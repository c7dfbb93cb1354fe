import type { JobStore, Keys, Logger, Redis, Registry, Submission } from '@trainyard/core';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { REDACTED_LOG_PATHS, registerAuth } from './auth.js';
import { registerErrorHandler, sendError } from './error-handler.js';
import { registerHttpMetrics } from './http-metrics.js';
import { registerEventRoutes } from './routes/events.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerWorkerRoutes } from './routes/workers.js';

/** Everything the api needs, built by `main.ts` (or a test) and passed in. */
export interface ApiDeps {
  /** Command connection (not used for blocking reads). */
  readonly redis: Redis;
  readonly keys: Keys;
  readonly store: JobStore;
  /** BullMQ queue `keys.submissionsQueue()` with prefix `keys.bullPrefix()`; owned by the caller. */
  readonly submissions: Queue<Submission>;
  readonly logger: Logger;
  /** Registry for the api's metrics; `GET /metrics` exposes it. */
  readonly metrics: Registry;
  /** Opens the dedicated connection of one SSE client; defaults to `redis.duplicate()`. */
  readonly openEventsConnection?: () => Redis;
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Interval of `: ping` comments on SSE streams (default 15 s). */
  readonly sseHeartbeatMs?: number;
  /** Longest blocking read of an SSE stream before it rechecks the job (default 5 s). */
  readonly sseBlockMs?: number;
  /** How long `/readyz` waits for PING (default 1 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Keys accepted as `Authorization: Bearer <key>` on every route but `/healthz`, `/readyz`
   * and `/metrics` (`API_KEYS`). Empty or absent: every route is open, and a warning says so.
   */
  readonly apiKeys?: readonly string[];
}

export const API_DEFAULTS = Object.freeze({
  bodyLimit: 1024 * 1024,
  sseHeartbeatMs: 15_000,
  sseBlockMs: 5_000,
  readyTimeoutMs: 1_000,
});

/**
 * Builds the api's Fastify instance, routes and hooks registered, not listening. The
 * caller owns the dependencies: `app.close()` ends open SSE streams but closes neither
 * `redis` nor `submissions`.
 *
 * With `apiKeys`, every route but health and metrics needs one of them (auth.ts); the
 * app logs through a child of `deps.logger` that censors Authorization headers.
 */
export function buildApp(deps: ApiDeps): FastifyInstance {
  const bodyLimit = deps.bodyLimit ?? API_DEFAULTS.bodyLimit;
  // Keys never reach a log line, whoever logs a request's headers.
  const logger = deps.logger.child({}, { redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' } });
  // Typed with Fastify's base logger so that route modules need not know it is pino.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit,
    // Every route answers JSON; the router should not treat /v1/jobs/ and /v1/jobs differently.
    // Room for the longest job id (128) so that the route, not the router, judges it.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Errors the router raises before any route (a malformed URL, an over-long parameter).
    frameworkErrors: (err, request, reply) => void sendError(err, request, reply),
    return503OnClosing: true,
  });

  // JSON only. An empty JSON body parses to `undefined` (a route that needs a body says so),
  // so a client that sends `Content-Type: application/json` on a bodiless cancel is not refused.
  app.removeAllContentTypeParsers();
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    jsonParser(request, text, done);
  });

  registerErrorHandler(app);
  registerHttpMetrics(app, deps.metrics);
  // After the metrics hook, so that refused requests are counted (as 4xx).
  registerAuth(app, { apiKeys: deps.apiKeys ?? [], logger });
  registerHealthRoutes(app, {
    redis: deps.redis,
    readyTimeoutMs: deps.readyTimeoutMs ?? API_DEFAULTS.readyTimeoutMs,
  });
  registerMetricsRoute(app, deps.metrics);
  registerJobRoutes(app, { store: deps.store, submissions: deps.submissions });
  registerWorkerRoutes(app, { redis: deps.redis, keys: deps.keys });
  registerEventRoutes(app, {
    store: deps.store,
    openConnection: deps.openEventsConnection ?? (() => deps.redis.duplicate()),
    heartbeatMs: deps.sseHeartbeatMs ?? API_DEFAULTS.sseHeartbeatMs,
    blockMs: deps.sseBlockMs ?? API_DEFAULTS.sseBlockMs,
  });
  return app;
}
