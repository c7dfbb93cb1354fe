import { createKeys, createMetricsRegistry, createRedis } from '@trainyard/core';
import { startRedisServer } from '@trainyard/devkit';
import { describe, expect, it } from 'vitest';
import { createSchedulerMetrics } from './scheduler-metrics.js';

describe('scheduler metrics', () => {
  it('still answers a scrape, within the collect deadline, while Redis is stalled', async () => {
    const server = await startRedisServer();
    const redis = createRedis(server.url, 'metrics-test');
    try {
      const registry = createMetricsRegistry('scheduler', { defaultMetrics: false });
      createSchedulerMetrics(registry, redis, createKeys('m'));
      expect(await registry.metrics()).toMatch(/trainyard_scheduler_workers\{state="free"[^}]*\} 0/);
      server.process.kill('SIGSTOP');
      const t0 = Date.now();
      const text = await registry.metrics();
      expect(Date.now() - t0).toBeLessThan(4_000);
      expect(text).toContain('trainyard_scheduler_queue_depth');
      server.process.kill('SIGCONT');
    } finally {
      server.process.kill('SIGCONT');
      redis.disconnect();
      await server.stop();
    }
  });
});
