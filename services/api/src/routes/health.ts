import { Errors, type Redis, TrainyardError } from '@trainyard/core';
import type { FastifyInstance } from 'fastify';

/**
 * `GET /healthz`: the process is alive (always 200).
 * `GET /readyz`: 200 only when Redis answers PING within `readyTimeoutMs`. A connection
 * that is down (reconnecting, closed, or never connected) answers 503 at once: with
 * `maxRetriesPerRequest: null` ioredis would queue the PING until Redis comes back, so the
 * probe never waits on it unbounded nor piles PINGs up in the offline queue.
 */

export interface HealthRoutesDeps {
  readonly redis: Redis;
  readonly readyTimeoutMs: number;
}

/** Why Redis is not ready, or null when it answered PING in time. Never rejects, never waits past the timeout. */
export async function checkRedis(redis: Redis, timeoutMs: number): Promise<string | null> {
  // Down, or never asked to connect: answer at once rather than queue a PING behind the reconnect.
  if (redis.status !== 'ready' && redis.status !== 'connecting' && redis.status !== 'connect') {
    return `the Redis connection is ${redis.status}`;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`Redis did not answer PING within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (pong) => (pong === 'PONG' ? null : `Redis answered PING with ${JSON.stringify(pong)}`),
        () => 'PING to Redis failed',
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, deps: HealthRoutesDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    const problem = await checkRedis(deps.redis, deps.readyTimeoutMs);
    if (problem !== null) throw new TrainyardError(Errors.REDIS_UNAVAILABLE, problem);
    return { status: 'ready' };
  });
}
