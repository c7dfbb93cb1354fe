/**
 * Test fixture: runs ONE rank of an already placed job in this process, as a worker pod
 * would, without the queue. Used by multi-rank tests that need real separate processes.
 * Env: REDIS_URL, TRAINYARD_PREFIX, JOB_ID, GENERATION, RANK, WORLD, WORKER_ID, STORE_DIR.
 * Exit code 0 when the rank succeeded, 1 otherwise.
 */
import { createKeys, createLogger, createRedis, JobStore } from '@trainyard/core';
import { initBackend } from '@trainyard/engine';
import { FsObjectStore } from '@trainyard/storage';
import { runRank } from '../rank-runner.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`rank-process: ${name} is not set`);
  return v;
};
const backend = await initBackend('wasm');
const redis = createRedis(env('REDIS_URL'), 'rank-process');
const keys = createKeys(env('TRAINYARD_PREFIX'));
const outcome = await runRank({
  task: {
    jobId: env('JOB_ID'),
    generation: Number(env('GENERATION')),
    rank: Number(env('RANK')),
    world: Number(env('WORLD')),
  },
  workerId: env('WORKER_ID'),
  redis,
  keys,
  store: new JobStore(redis, keys),
  objects: new FsObjectStore(env('STORE_DIR')),
  backend,
  logger: createLogger('rank-process', process.env.LOG_LEVEL ?? 'warn'),
  signal: new AbortController().signal,
});
redis.disconnect();
process.exit(outcome === 'succeeded' ? 0 : 1);
