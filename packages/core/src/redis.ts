import { Redis, type RedisOptions } from 'ioredis';

export { Redis } from 'ioredis';

/**
 * A Redis connection for Trainyard. `maxRetriesPerRequest: null` lets commands wait
 * through a reconnect (BullMQ requires it for its blocking connections); callers bound
 * their own waits with deadlines.
 */
export function createRedis(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...options,
  });
}

/** Quits a connection, falling back to disconnect when it is not connected. Never throws. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'ready' || redis.status === 'connect') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
