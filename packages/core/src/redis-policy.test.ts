import { startRedisServer } from '@trainyard/devkit';
import { describe, expect, it } from 'vitest';
import { createRedis } from './redis.js';
import { assertSafeEvictionPolicy } from './redis-policy.js';

describe('assertSafeEvictionPolicy (real redis-server)', () => {
  it.each([
    ['noeviction', null],
    ['volatile-lru', 'warn'],
    ['allkeys-lru', 'TRAINYARD_ERR_CONFIG_INVALID'],
  ] as const)('maxmemory-policy %s', async (policy, outcome) => {
    const server = await startRedisServer({ extraArgs: ['--maxmemory-policy', policy] });
    const redis = createRedis(server.url, 'policy-test');
    const warnings: unknown[] = [];
    try {
      const check = assertSafeEvictionPolicy(redis, { warn: (o: unknown) => void warnings.push(o) });
      if (outcome === 'TRAINYARD_ERR_CONFIG_INVALID') {
        await expect(check).rejects.toMatchObject({
          code: outcome,
          message: expect.stringMatching(/allkeys-lru.*noeviction/),
        });
      } else {
        await expect(check).resolves.toBe(policy);
        expect(warnings).toHaveLength(outcome === 'warn' ? 1 : 0);
      }
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
