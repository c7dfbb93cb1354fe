import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobEvent } from '@trainyard/core';
import { type LocalCluster, readSse, startLocalCluster } from '@trainyard/devkit';
import { FsObjectStore, listCheckpoints, readCheckpoint } from '@trainyard/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsClient } from './cluster-client.js';
import { redisUrl } from './helpers.js';

/**
 * End to end through real HTTP and real processes: an api, a scheduler and two workers,
 * each its own OS process, on the test run's redis-server.
 */

const smallJob = {
  model: { family: 'mlp', hidden: [32] },
  dataset: { name: 'mnist', trainSize: 320, testSize: 200, splitSeed: 5 },
  workers: 2,
  batchSize: 32,
  optimizer: { name: 'adam', learningRate: 0.003 },
  epochs: 2,
  seed: 3,
  checkpoint: { everySteps: 8, keepLast: 2 },
};

/** Parses Prometheus text exposition: every sample line is `name{labels} value`. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

describe('end to end: REST -> scheduler -> 2 worker processes', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-e2e-'));
    cluster = await startLocalCluster({
      workers: 2,
      redisUrl: redisUrl(),
      prefix: `e2e-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'objects'),
      logDir: join(dir, 'logs'),
      env: { TRAINYARD_BACKEND: 'wasm', LOG_LEVEL: 'info' },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  const post = (body: unknown) => jobsClient(cluster.apiUrl).submit(body);
  const getJob = (id: string) => jobsClient(cluster.apiUrl).get(id);

  it('trains a small job QUEUED -> SUCCEEDED, with a verifying checkpoint and metrics that show its steps', async () => {
    const submitted = await post(smallJob);
    expect(submitted.state).toBe('QUEUED');
    const events: JobEvent[] = [];
    await readSse(`${cluster.apiUrl}/v1/jobs/${submitted.id}/events`, (msg) => {
      events.push(JSON.parse(msg.data) as JobEvent);
    });
    const states = events.filter((e) => e.type === 'state').map((e) => (e as { state: string }).state);
    expect(states).toEqual(['QUEUED', 'PLACED', 'RUNNING', 'SUCCEEDED']);
    expect(events.some((e) => e.type === 'progress')).toBe(true);

    const job = await getJob(submitted.id);
    expect(job.state).toBe('SUCCEEDED');
    expect(job.placement?.map((p) => p.workerId).sort()).toEqual(['local-worker-0', 'local-worker-1']);
    expect(job.backends?.['0']?.name).toBe('wasm');
    expect(job.progress?.step).toBe(20); // 320 / 32 = 10 steps per epoch, 2 epochs
    expect(job.evaluation?.samples).toBe(200);
    expect(job.evaluation?.accuracy).toBeGreaterThan(0.5);
    expect(job.checkpoints.map((c) => c.step)).toEqual([16, 20]); // keepLast 2: step 8 was pruned

    const objects = new FsObjectStore(cluster.storeDir);
    expect(await listCheckpoints(objects, job.id)).toEqual(job.checkpoints.map((c) => c.manifestKey));
    expect(await objects.list(`checkpoints/${job.id}/0000000008/`)).toEqual([]);
    const { manifest, files } = await readCheckpoint(objects, job.checkpoints.at(-1)!.manifestKey);
    expect(manifest.step).toBe(20);
    expect(Object.keys(files).sort()).toEqual(['optimizer.bin', 'state.json', 'weights.bin']);
    expect(JSON.parse(files['state.json']!.toString()).epoch).toBe(1);

    let totalSteps = 0;
    for (const s of cluster.services.filter((x) => x.name.startsWith('worker-'))) {
      const metrics = parsePrometheus(await (await fetch(s.metricsUrl)).text());
      const steps = [...metrics].find(([k]) => k.startsWith('trainyard_worker_steps_total'))?.[1] ?? 0;
      expect(steps).toBe(20);
      totalSteps += steps;
      expect(
        [...metrics.keys()].some((k) => k.startsWith('trainyard_collective_allreduce_bytes_total')),
      ).toBe(true);
    }
    expect(totalSteps).toBe(40);
    const api = parsePrometheus(await (await fetch(`${cluster.apiUrl}/metrics`)).text());
    expect([...api.keys()].some((k) => k.startsWith('trainyard_api_http_requests_total'))).toBe(true);
    const scheduler = parsePrometheus(
      await (await fetch(cluster.services.find((s) => s.name === 'scheduler')!.metricsUrl)).text(),
    );
    expect(
      [...scheduler].find(([k]) => k.includes('trainyard_scheduler_jobs') && k.includes('SUCCEEDED'))?.[1],
    ).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("stops a cancelled job's ranks within 5 s and frees its workers", async () => {
    const submitted = await post({
      ...smallJob,
      dataset: { ...smallJob.dataset, trainSize: 8000 },
      epochs: 50,
    });
    const deadline = Date.now() + 60_000;
    while ((await getJob(submitted.id)).progress === null) {
      if (Date.now() > deadline) throw new Error('job never made progress');
      await new Promise((r) => setTimeout(r, 200));
    }
    const cancelledAt = Date.now();
    const res = await fetch(`${cluster.apiUrl}/v1/jobs/${submitted.id}/cancel`, { method: 'POST' });
    expect(res.status).toBeLessThan(300);
    const { createRedis, createKeys } = await import('@trainyard/core');
    const redis = createRedis(cluster.redisUrl, 'e2e-probe');
    const keys = createKeys(cluster.prefix);
    try {
      for (;;) {
        const beats = await redis.mget(
          keys.workerHeartbeat('local-worker-0'),
          keys.workerHeartbeat('local-worker-1'),
        );
        const running = beats.map((b) => (b ? (JSON.parse(b) as { running: string | null }).running : null));
        if (running.every((r) => r === null)) break;
        expect(Date.now() - cancelledAt, 'ranks still running 5 s after cancel').toBeLessThan(5000);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      redis.disconnect();
    }
    const job = await getJob(submitted.id);
    expect(job.state).toBe('CANCELLED');
    const stepAtCancel = job.progress?.step ?? 0;
    expect(stepAtCancel).toBeLessThan(job.progress?.totalSteps ?? 0);
    // The workers are free again: a new job runs to the end.
    const next = await post({ ...smallJob, epochs: 1 });
    await readSse(`${cluster.apiUrl}/v1/jobs/${next.id}/events`, () => {});
    expect((await getJob(next.id)).state).toBe('SUCCEEDED');
  }, 120_000);

  it('uneven data: 5 samples, global batch 2, 2 workers finishes cleanly (drop-last); 3 samples for 4 workers is a 400', async () => {
    const tiny = {
      ...smallJob,
      dataset: { ...smallJob.dataset, trainSize: 5, testSize: 10 },
      batchSize: 2,
      epochs: 2,
    };
    const job = await post(tiny);
    await readSse(`${cluster.apiUrl}/v1/jobs/${job.id}/events`, () => {});
    const done = await getJob(job.id);
    expect(done.state, JSON.stringify(done.error)).toBe('SUCCEEDED');
    expect(done.progress).toMatchObject({ step: 4, totalSteps: 4 }); // floor(5 / 2) = 2 steps a epoch, the 5th sample dropped
    const refused = await fetch(`${cluster.apiUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...tiny, dataset: { ...tiny.dataset, trainSize: 3 }, workers: 4, batchSize: 4 }),
    });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { issues: { path: string; message: string }[] } };
    expect(body.error.issues).toContainEqual({
      path: 'dataset.trainSize',
      message: expect.stringMatching(/smaller than one global batch/),
    });
  }, 60_000);
});
