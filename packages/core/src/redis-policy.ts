import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Errors, TrainyardError } from './errors.js';

/**
 * Refuses a Redis that may evict keys Trainyard cannot lose. Job records, event streams and
 * BullMQ's keys carry no TTL: an `allkeys-*` policy can evict them under memory pressure,
 * losing jobs silently. `volatile-*` policies evict only keys with a TTL (collective
 * scratch keys), which costs a restart, not a job: allowed with a warning. A Redis that
 * refuses CONFIG GET (some managed services) is allowed with a warning.
 */
export async function assertSafeEvictionPolicy(
  redis: Redis,
  logger: Pick<Logger, 'warn'>,
): Promise<string | null> {
  let policy: string | null = null;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? null;
  } catch (err) {
    logger.warn({ err }, 'cannot read maxmemory-policy (CONFIG GET refused); make sure it is noeviction');
    return null;
  }
  if (policy?.startsWith('allkeys-')) {
    throw new TrainyardError(
      Errors.CONFIG_INVALID,
      `Redis maxmemory-policy is ${policy}: it may evict job records and queue keys; set maxmemory-policy noeviction`,
    );
  }
  if (policy && policy !== 'noeviction') {
    logger.warn(
      { policy },
      'Redis maxmemory-policy is not noeviction: collective keys may be evicted (restarts)',
    );
  }
  return policy;
}
