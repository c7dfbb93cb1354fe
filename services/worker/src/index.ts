/**
 * @trainyard/worker — one pod's agent: registration, heartbeats, running a rank.
 *
 *   const worker = createWorker({ workerId, redis, connect, keys, objects, backend, logger, ... });
 *   await worker.start();
 */
export { loadWorkerConfig, WorkerConfig } from './config.js';
export { type RankContext, type RankOutcome, runRank } from './rank-runner.js';
export { createWorker, type TrainyardWorker, type WorkerDeps, type WorkerState } from './worker-agent.js';
export { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.js';
