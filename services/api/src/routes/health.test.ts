import { createRedis, type Redis } from '@trainyard/core';
import { startRedisServer } from '@trainyard/devkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../error-handler.js';
import { type ApiFixture, apiFixture } from '../test-support.js';
import { checkRedis } from './health.js';

const opened: Redis[] = [];
const fixtures: ApiFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
  for (const r of opened.splice(0)) r.disconnect();
});

async function fixture(overrides: Parameters<typeof apiFixture>[0] = {}): Promise<ApiFixture> {
  const fx = await apiFixture(overrides);
  fixtures.push(fx);
  return fx;
}

function unreachableRedis(options: { lazyConnect?: boolean } = {}): Redis {
  // Port 1 on loopback: nothing listens, every connect is refused.
  const redis = createRedis('redis://127.0.0.1:1', 'readyz-down', options);
  redis.on('error', () => {});
  opened.push(redis);
  return redis;
}

describe('health routes', () => {
  it('GET /healthz is 200 whatever Redis does', async () => {
    const fx = await fixture({ redis: unreachableRedis({ lazyConnect: true }) });
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 when Redis answers PING', async () => {
    const fx = await fixture();
    const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready' });
  });

  it.each([
    ['never connected (lazyConnect)', { lazyConnect: true }],
    ['reconnecting to a closed port', {}],
  ])('GET /readyz is 503 REDIS_UNAVAILABLE at once when Redis is %s', async (_label, options) => {
    const fx = await fixture({ redis: unreachableRedis(options) });
    await new Promise((r) => setTimeout(r, 50)); // let the eager one fail its first connect
    const started = Date.now();
    const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res.statusCode).toBe(503);
    expect(res.json<ErrorBody>().error).toMatchObject({
      code: 'TRAINYARD_ERR_REDIS_UNAVAILABLE',
      retryable: true,
    });
  });

  it('GET /readyz is 503 within its timeout when a connected Redis stops answering', async () => {
    const server = await startRedisServer();
    const redis = createRedis(server.url, 'readyz-hung');
    redis.on('error', () => {});
    opened.push(redis);
    try {
      await redis.ping();
      const fx = await fixture({ redis, readyTimeoutMs: 300 });
      expect((await fx.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      process.kill(server.process.pid!, 'SIGSTOP'); // alive and connected, but answers nothing
      const started = Date.now();
      const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
      const elapsed = Date.now() - started;
      expect(res.statusCode).toBe(503);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
      expect(res.json<ErrorBody>().error.message).toContain('300 ms');
    } finally {
      process.kill(server.process.pid!, 'SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  });

  it('checkRedis never rejects, and says why', async () => {
    await expect(checkRedis(unreachableRedis({ lazyConnect: true }), 100)).resolves.toBe(
      'the Redis connection is wait',
    );
  });
});
