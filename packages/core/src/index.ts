/**
 * @trainyard/core — the contracts every part shares: wire schemas (JobSpec, the job
 * record and its events, worker registration, rank tasks), the job state machine and
 * its store in Redis, Redis key names, the error registry, config compilation, and the
 * logger and metrics factories. Imports no tfjs, no fastify and no service.
 *
 *   const keys = createKeys('trainyard');
 *   const store = new JobStore(redis, keys);
 *   const { job } = await store.create(JobSpec.parse(body), { idempotencyKey });
 */
export {
  API_KEY_PATTERN,
  BaseConfig,
  compileConfig,
  configOrExit,
  keyPrefix,
  logLevel,
  port,
  positiveMs,
  redisUrl,
} from './config.js';
export {
  describeError,
  type ErrorDef,
  type ErrorName,
  Errors,
  isTrainyardError,
  TrainyardError,
  type TrainyardErrorOptions,
} from './errors.js';
export {
  BackendInfo,
  CheckpointRef,
  ClassificationEvaluation,
  JobEvent,
  JobFailure,
  JobProgress,
  JobRecord,
  RankPlacement,
  RestartRecord,
} from './job-record.js';
export {
  CheckpointSpec,
  CnnModelSpec,
  CollectiveSpec,
  ConvBlockSpec,
  DatasetSpec,
  JobSpec,
  type JobSpecInput,
  LIMITS,
  MlpModelSpec,
  MnistDatasetSpec,
  ModelSpec,
  NonFiniteSpec,
  OptimizerSpec,
  rankCounts,
  stepsPerEpoch,
  workerBounds,
} from './job-spec.js';
export {
  canTransition,
  isLive,
  isTerminal,
  JOB_STATES,
  type JobState,
  LIVE_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
} from './job-state.js';
export {
  type ChangeOptions,
  type ChangeResult,
  type CreateResult,
  type EventEntry,
  type GenerationFailure,
  JobStore,
  type PlaceResult,
  RESTART_BACKOFF_BASE_MS,
  RESTART_BACKOFF_CAP_MS,
  StoreResult,
  specHash,
  stableStringify,
} from './job-store.js';
export { assertSafeId, createKeys, type Keys } from './keys.js';
export { createLogger, type Logger } from './logger.js';
export { LuaScript } from './lua-script.js';
export {
  CHECKPOINT_BUCKETS_SECONDS,
  Counter,
  createMetricsRegistry,
  DURATION_BUCKETS_SECONDS,
  Gauge,
  Histogram,
  QUEUE_WAIT_BUCKETS_SECONDS,
  Registry,
} from './metrics.js';
export { type MetricsServer, serveMetrics } from './metrics-server.js';
export { closeRedis, createRedis, Redis } from './redis.js';
export { assertSafeEvictionPolicy } from './redis-policy.js';
export { type RandomState, SeededRandom, seededPermutation } from './seeded-random.js';
export { type CleanupStep, createShutdown, exitOnSignals, runCleanup } from './shutdown.js';
export { readSseBody, type SseMessage, SseParser } from './sse.js';
export { RankTask, Submission, WorkerHeartbeat, WorkerRegistration } from './worker-info.js';
export { type MemberState, memberState, type PoolMember, readPool } from './worker-pool.js';
