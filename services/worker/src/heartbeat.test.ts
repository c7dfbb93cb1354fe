import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { type Heartbeat, startHeartbeat } from './heartbeat.js';

describe('heartbeat thread (real Redis)', () => {
  let fx: RedisFixture;
  let hb: Heartbeat | null = null;
  beforeEach(async () => {
    fx = await redisFixture();
  });
  afterEach(async () => {
    await hb?.stop(true);
    hb = null;
    await fx.cleanup();
  });

  const start = () =>
    startHeartbeat({
      redisUrl: fx.url,
      workerId: 'w-hb',
      workersKey: fx.keys.workers(),
      heartbeatKey: fx.keys.workerHeartbeat('w-hb'),
      registration: JSON.stringify({ workerId: 'w-hb' }),
      intervalMs: 100,
      ttlMs: 600,
    });

  it('keeps beating while the main thread is blocked for longer than the TTL', async () => {
    hb = await start();
    const blockedUntil = Date.now() + 1500; // a training step that holds the event loop
    while (Date.now() < blockedUntil) {
      /* busy */
    }
    const raw = await fx.redis.get(fx.keys.workerHeartbeat('w-hb'));
    expect(raw).not.toBeNull();
    const beat = JSON.parse(raw!) as { ts: string; running: string | null };
    expect(Date.now() - Date.parse(beat.ts)).toBeLessThan(600);
  });

  it('reports the running rank, re-registers a forgotten worker, and deregisters on stop', async () => {
    hb = await start();
    await hb.setRunning('job-1:1:0');
    expect(JSON.parse((await fx.redis.get(fx.keys.workerHeartbeat('w-hb')))!).running).toBe('job-1:1:0');
    await fx.redis.hdel(fx.keys.workers(), 'w-hb'); // the scheduler forgot it, or Redis restarted empty
    await new Promise((r) => setTimeout(r, 300));
    expect(await fx.redis.hexists(fx.keys.workers(), 'w-hb')).toBe(1);
    await hb.stop(true);
    expect(await fx.redis.exists(fx.keys.workerHeartbeat('w-hb'), fx.keys.workers())).toBe(0);
  });
});
