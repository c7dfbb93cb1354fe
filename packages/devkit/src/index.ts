/**
 * @trainyard/devkit — running Trainyard on one machine: a private redis-server on a free
 * port (for tests, the demo and benchmarks).
 *
 *   const redis = await startRedisServer();
 *   try { ... redis.url ... } finally { await redis.stop(); }
 */
export { findRedisServerBinary, freePort, type RedisServerHandle, startRedisServer } from './redis-server.js';
