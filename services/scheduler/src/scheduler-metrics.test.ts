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

  it('reads queue wait, per-job progress age and restarts from Redis; a job that stops running loses its series', async () => {
    const server = await startRedisServer();
    const redis = createRedis(server.url, 'metrics-test');
    const keys = createKeys('m2');
    try {
      const registry = createMetricsRegistry('scheduler', { defaultMetrics: false });
      createSchedulerMetrics(registry, redis, keys);
      const oldest = /trainyard_scheduler_queue_oldest_wait_seconds\{[^}]*\} (\S+)/;
      expect(Number((await registry.metrics()).match(oldest)?.[1])).toBe(0);

      await redis.zadd(keys.pending(), Date.now() - 30_000, 'j-old', Date.now() - 1_000, 'j-new');
      await redis.zadd(keys.jobIndex(), 1, 'j-run');
      await redis.hset(
        keys.job('j-run'),
        'state',
        'RUNNING',
        'updatedAt',
        new Date(Date.now() - 12_000).toISOString(),
      );
      await redis.hincrby(keys.restartCounts(), 'TRAINYARD_ERR_WORKER_LOST', 2);
      await redis.hincrby(keys.failureCounts(), 'TRAINYARD_ERR_TRAINING_NONFINITE', 1);
      let text = await registry.metrics();
      const wait = Number(text.match(oldest)?.[1]);
      expect(wait).toBeGreaterThanOrEqual(29);
      expect(wait).toBeLessThan(40);
      const age = Number(
        text.match(/trainyard_scheduler_job_progress_age_seconds\{job_id="j-run"[^}]*\} (\S+)/)?.[1],
      );
      expect(age).toBeGreaterThanOrEqual(11);
      expect(age).toBeLessThan(20);
      expect(text).toMatch(
        /trainyard_scheduler_job_restarts_total\{code="TRAINYARD_ERR_WORKER_LOST"[^}]*\} 2\n/,
      );
      expect(text).toMatch(/trainyard_scheduler_jobs\{state="RUNNING"[^}]*\} 1\n/);
      expect(text).toMatch(
        /trainyard_scheduler_job_failures_total\{code="TRAINYARD_ERR_TRAINING_NONFINITE"[^}]*\} 1\n/,
      );
      // Codes that never happened are there from the start, at 0.
      expect(text).toMatch(
        /trainyard_scheduler_job_failures_total\{code="TRAINYARD_ERR_SPEC_INVALID"[^}]*\} 0\n/,
      );
      expect(text).toMatch(
        /trainyard_scheduler_job_restarts_total\{code="TRAINYARD_ERR_STORE_UNAVAILABLE"[^}]*\} 0\n/,
      );

      await redis.hset(keys.job('j-run'), 'state', 'SUCCEEDED');
      await redis.hincrby(keys.restartCounts(), 'TRAINYARD_ERR_WORKER_LOST', 1);
      text = await registry.metrics();
      expect(text).not.toContain('job_id="j-run"');
      expect(text).toMatch(
        /trainyard_scheduler_job_restarts_total\{code="TRAINYARD_ERR_WORKER_LOST"[^}]*\} 3\n/,
      );
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
