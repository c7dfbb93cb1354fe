import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobEvent, JobRecord } from '@trainyard/core';
import { type LocalCluster, readSse, startLocalCluster } from '@trainyard/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_FAILURE_ENV, jobsClient, lastCheckpointWeights, relativeDistance } from './cluster-client.js';
import { redisUrl } from './helpers.js';

/**
 * Fault injection with real processes: a worker SIGKILLed mid-job. The job must restart from
 * its latest valid checkpoint on the workers left and finish with the weights an
 * uninterrupted run reaches.
 */

const spec = {
  model: { family: 'mlp', hidden: [64] },
  dataset: { name: 'mnist', trainSize: 4800, testSize: 200, splitSeed: 9 },
  workers: 3,
  batchSize: 48,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs: 2,
  seed: 5,
  checkpoint: { everySteps: 10 },
  maxRestarts: 2,
  collective: { timeoutMs: 20_000 },
};

describe('fault tolerance: a worker killed mid-job (real processes)', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-fault-'));
    cluster = await startLocalCluster({
      workers: 5, // 3 ranks, and spares for the workers the cases take away
      redisUrl: redisUrl(),
      prefix: `fault-${randomUUID().slice(0, 8)}`,
      storeDir: join(dir, 'objects'),
      logDir: join(dir, 'logs'),
      env: { ...FAST_FAILURE_ENV },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  const submit = (body: unknown) => jobsClient(cluster.apiUrl).submit(body);
  const getJob = (id: string) => jobsClient(cluster.apiUrl).get(id);
  const finalWeights = (job: JobRecord) => lastCheckpointWeights(cluster.storeDir, job);

  let reference: JobRecord | null = null;
  const uninterruptedRun = async (): Promise<JobRecord> => {
    if (!reference) {
      const submitted = await submit(spec);
      await readSse(`${cluster.apiUrl}/v1/jobs/${submitted.id}/events`, () => {});
      reference = await getJob(submitted.id);
      expect(reference.state).toBe('SUCCEEDED');
    }
    return reference;
  };

  it.each([
    ['SIGKILL', 2, 'killed'],
    ['SIGSTOP', 1, 'frozen, not dead'],
    ['SIGTERM', 1, 'drained: checkpoints at the next step and hands over'],
  ] as const)(
    'a %s of rank %i (%s): resumes from the latest checkpoint on the workers left and ends with the uninterrupted weights',
    async (signal, victimRank, _what) => {
      const uninterrupted = await uninterruptedRun();

      const job = await submit(spec);
      let killed: { workerId: string; afterCheckpoint: number; resume: () => void } | null = null;
      const events: JobEvent[] = [];
      await readSse(`${cluster.apiUrl}/v1/jobs/${job.id}/events`, async (msg) => {
        const event = JSON.parse(msg.data) as JobEvent;
        events.push(event);
        if (!killed && event.type === 'checkpoint' && event.checkpoint.step >= 10) {
          const record = await getJob(job.id);
          const victim = record.placement!.find((p) => p.rank === victimRank)!.workerId;
          const service = cluster.services.find((s) => s.name === `worker-${victim.split('-').at(-1)}`)!;
          service.child.kill(signal);
          killed = {
            workerId: victim,
            afterCheckpoint: event.checkpoint.step,
            resume: () => service.child.kill('SIGCONT'),
          };
        }
      });
      expect(killed).not.toBeNull();
      killed!.resume(); // a frozen worker wakes up: it must stop its stale rank, not disturb the job
      const done = await getJob(job.id);
      expect(done.state, JSON.stringify(done.error)).toBe('SUCCEEDED');
      expect(done.generation).toBe(2);
      if (signal === 'SIGTERM') {
        // A planned stop: the ranks checkpointed at the step they agreed on, and the restart
        // does not count against maxRestarts.
        expect(done.restarts).toEqual([
          expect.objectContaining({ generation: 1, code: 'TRAINYARD_ERR_WORKER_DRAINING', counted: false }),
        ]);
        const drainStep = Number(/step (\d+)/.exec(done.restarts[0]!.reason)![1]);
        const checkpointed = events.filter((e) => e.type === 'checkpoint' && e.generation === 1);
        expect(checkpointed.map((e) => (e as { checkpoint: { step: number } }).checkpoint.step)).toContain(
          drainStep,
        );
        expect(drainStep % 10).not.toBe(0); // not a periodic one: written at the drain
      } else {
        expect(done.restarts).toEqual([
          expect.objectContaining({
            generation: 1,
            rank: victimRank,
            workerId: killed!.workerId,
            code: 'TRAINYARD_ERR_RANK_FAILED',
            counted: true,
          }),
        ]);
      }
      expect(done.placement!.map((p) => p.workerId)).not.toContain(killed!.workerId);
      const states = events.filter((e) => e.type === 'state').map((e) => (e as { state: string }).state);
      expect(states).toEqual(['QUEUED', 'PLACED', 'RUNNING', 'RESTARTING', 'PLACED', 'RUNNING', 'SUCCEEDED']);
      // Generation 2 resumed from a checkpoint of generation 1 (at or after the one that preceded the kill).
      const resumedProgress = events.find((e) => e.type === 'progress' && e.generation === 2) as
        | { progress: { step: number } }
        | undefined;
      expect(resumedProgress?.progress.step).toBeGreaterThan(killed!.afterCheckpoint);
      expect(done.progress?.step).toBe(200);

      const a = await finalWeights(uninterrupted);
      const b = await finalWeights(done);
      expect(relativeDistance(a, b)).toBeLessThanOrEqual(1e-6);
      expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    },
    180_000,
  );

  it('an elastic job (workers 2..3) that loses a worker finishes on fewer ranks, with the same global batch and data order', async () => {
    for (const svc of cluster.services) {
      if (svc.child.exitCode !== null || svc.child.signalCode !== null) await cluster.respawn(svc.name);
    }
    const uninterrupted = await uninterruptedRun();
    const pool = async () =>
      (
        (await (await fetch(`${cluster.apiUrl}/v1/workers`)).json()) as {
          workers: { workerId: string; state: string }[];
        }
      ).workers;
    const until = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 30_000;
      while (!(await check())) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await pool())}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until('5 free workers', async () => (await pool()).filter((w) => w.state === 'free').length === 5);
    // Freeze two workers so the job starts with 3 ranks and can only restart with 2.
    const spares = cluster.services.filter((x) => x.name.startsWith('worker-')).slice(3);
    for (const spare of spares) spare.child.kill('SIGSTOP');
    try {
      await until(
        '3 free workers',
        async () => (await pool()).filter((w) => w.state === 'free').length === 3,
      );
      const job = await submit({ ...spec, workers: { min: 2, max: 3 } });
      let killed = false;
      await readSse(`${cluster.apiUrl}/v1/jobs/${job.id}/events`, async (msg) => {
        const event = JSON.parse(msg.data) as JobEvent;
        if (!killed && event.type === 'checkpoint' && event.checkpoint.step >= 10) {
          killed = true;
          const record = await getJob(job.id);
          expect(record.placement).toHaveLength(3);
          const victim = record.placement!.find((p) => p.rank === 1)!.workerId;
          cluster.services
            .find((x) => x.name === `worker-${victim.split('-').at(-1)}`)!
            .child.kill('SIGKILL');
        }
      });
      const done = await getJob(job.id);
      expect(done.state, JSON.stringify(done.error)).toBe('SUCCEEDED');
      expect(done.generation).toBe(2);
      expect(done.placement).toHaveLength(2);
      expect(done.progress?.step).toBe(200); // same global batch: same number of steps
      // Different rank counts sum gradients in a different order: close, not bit-equal.
      const a = await finalWeights(uninterrupted);
      const b = await finalWeights(done);
      expect(relativeDistance(a, b)).toBeLessThan(1e-3);
    } finally {
      for (const spare of spares) spare.child.kill('SIGCONT');
    }
  }, 180_000);
});
