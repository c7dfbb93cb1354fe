/**
 * @trainyard/devkit — running Trainyard on one machine: a private redis-server on a free
 * port, and a whole local cluster (api, scheduler, N workers as separate processes), for
 * tests, the demo and benchmarks.
 *
 *   const cluster = await startLocalCluster({ workers: 2 });
 *   try { await fetch(`${cluster.apiUrl}/v1/jobs`, ...) } finally { await cluster.stop(); }
 */
export {
  type LocalCluster,
  type LocalClusterOptions,
  REPO_ROOT,
  type ServiceProcess,
  startLocalCluster,
  tailLog,
} from './local-cluster.js';
export { findRedisServerBinary, freePort, type RedisServerHandle, startRedisServer } from './redis-server.js';
export {
  S3RVER_CREDENTIALS,
  type S3ServerHandle,
  type S3ServerOptions,
  startS3Server,
} from './s3-server.js';
export { readSse, type SseMessage } from './sse-client.js';
