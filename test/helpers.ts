import { randomUUID } from 'node:crypto';
import { createKeys, createRedis, type Keys, type Redis } from '@trainyard/core';
import { inject } from 'vitest';

/** A unique key prefix and a connection to the test run's redis-server; `cleanup()` deletes the prefix's keys. */
export interface RedisFixture {
  readonly url: string;
  readonly prefix: string;
  readonly keys: Keys;
  readonly redis: Redis;
  cleanup(): Promise<void>;
}

export function redisUrl(): string {
  return inject('redisUrl');
}

export async function redisFixture(): Promise<RedisFixture> {
  const url = redisUrl();
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const redis = createRedis(url, `test-${prefix}`);
  return {
    url,
    prefix,
    keys: createKeys(prefix),
    redis,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) await redis.del(...found);
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}
