import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiFixture, apiFixture } from '../test-support.js';

describe('GET /v1/workers', () => {
  let fx: ApiFixture;
  beforeEach(async () => {
    fx = await apiFixture();
  });
  afterEach(async () => {
    await fx.close();
  });

  it('lists registered workers with their backend and state', async () => {
    const reg = (workerId: string, backend: string) =>
      JSON.stringify({
        workerId,
        host: 'h',
        pid: 1,
        slots: 1,
        backend: { name: backend, version: '4.22.0', gpu: null },
        metricsUrl: null,
        registeredAt: '2026-12-03T00:00:00.000Z',
      });
    await fx.redis.hset(fx.keys.workers(), 'w-free', reg('w-free', 'wasm'), 'w-lost', reg('w-lost', 'cpu'));
    await fx.redis.hset(fx.keys.workers(), 'w-busy', reg('w-busy', 'wasm'));
    const hb = (workerId: string, running: string | null) =>
      JSON.stringify({ workerId, ts: '2026-12-03T00:00:01.000Z', running });
    await fx.redis.set(fx.keys.workerHeartbeat('w-free'), hb('w-free', null), 'PX', 60_000);
    await fx.redis.set(fx.keys.workerHeartbeat('w-busy'), hb('w-busy', 'job-1:1:0'), 'PX', 60_000);
    const res = await fx.app.inject({ method: 'GET', url: '/v1/workers' });
    expect(res.statusCode).toBe(200);
    const { workers } = res.json<{
      workers: { workerId: string; state: string; running: string | null; backend: { name: string } }[];
    }>();
    expect(workers.map((w) => [w.workerId, w.state, w.running, w.backend.name])).toEqual([
      ['w-busy', 'busy', 'job-1:1:0', 'wasm'],
      ['w-free', 'free', null, 'wasm'],
      ['w-lost', 'lost', null, 'cpu'],
    ]);
  });
});
