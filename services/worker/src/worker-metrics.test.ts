// Proves the per-job series contract of docs/metrics.md: a job's series exist from the
// rank's start (counters at 0), stay for the linger after it ends, then disappear; binding
// the same job again (its next generation) cancels the removal.
import { createMetricsRegistry } from '@trainyard/core';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from './worker-metrics.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker metrics: per-job series', () => {
  it('creates counters at zero, keeps series for the linger, then removes them', async () => {
    const registry = createMetricsRegistry('worker', { defaultMetrics: false });
    const metrics = createWorkerMetrics(registry, { jobSeriesLingerMs: 150 });
    const jm = metrics.forJob('j-1');
    let text = await registry.metrics();
    expect(text).toMatch(/trainyard_worker_steps_total\{job_id="j-1",component="worker"\} 0\n/);
    expect(text).toMatch(/trainyard_worker_nonfinite_steps_total\{job_id="j-1",component="worker"\} 0\n/);
    jm.steps.inc();
    jm.stepSeconds.observe(0.02);
    jm.trainAccuracy.set(0.5);
    jm.testAccuracy.set(0.97);
    text = await registry.metrics();
    expect(text).toMatch(/trainyard_worker_steps_total\{job_id="j-1",component="worker"\} 1\n/);
    expect(text).toMatch(/trainyard_worker_accuracy\{job_id="j-1",split="test",component="worker"\} 0\.97\n/);
    expect(text).toMatch(/trainyard_worker_tensors\{component="worker"\} \d+\n/);

    metrics.releaseJob('j-1');
    await sleep(50);
    expect(await registry.metrics()).toContain('job_id="j-1"'); // lingering
    await sleep(200);
    expect(await registry.metrics()).not.toContain('job_id="j-1"');
    metrics.close();
  });

  it('binding the job again before the linger ends keeps its series', async () => {
    const registry = createMetricsRegistry('worker', { defaultMetrics: false });
    const metrics = createWorkerMetrics(registry, { jobSeriesLingerMs: 100 });
    metrics.forJob('j-2').steps.inc(3);
    metrics.releaseJob('j-2');
    metrics.forJob('j-2'); // generation 2 lands on this worker
    await sleep(200);
    expect(await registry.metrics()).toMatch(
      /trainyard_worker_steps_total\{job_id="j-2",component="worker"\} 3\n/,
    );
    metrics.releaseJob('j-2');
    metrics.close(); // no timer left behind
  });
});
