/**
 * @trainyard/api — the HTTP front of Trainyard: submit, list, get and cancel jobs, stream
 * a job's events (SSE), health and metrics. `buildApp` returns a Fastify instance that is
 * not listening; the caller owns its Redis connection and submissions queue.
 *
 *   const config = loadApiConfig(process.env);
 *   const app = buildApp({ redis, keys, store, submissions, logger, metrics, bodyLimit: config.bodyLimitBytes });
 *   await app.listen({ host: config.host, port: config.port });
 */
export { API_DEFAULTS, type ApiDeps, buildApp } from './app.js';
export { ApiKeyVerifier, type AuthVerdict, OPEN_ROUTES } from './auth.js';
export {
  API_KEY_MAX_LENGTH,
  API_KEY_MIN_LENGTH,
  ApiConfig,
  ApiEnv,
  ApiKeys,
  loadApiConfig,
} from './config.js';
export { type ErrorBody, toPublicError } from './error-handler.js';
export { type HttpMetrics, UNMATCHED_ROUTE } from './http-metrics.js';
export { JobEventStream, type JobEventStreamState } from './job-event-stream.js';
export { jobLocation } from './routes/jobs.js';
export { closeAppWithGrace } from './shutdown.js';
export { formatSseMessage, type ParsedSseMessage, parseSseMessages } from './sse.js';
export { type ApiIssue, toApiIssues } from './validation.js';
