import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSpec, JobStore, workerBounds } from '@trainyard/core';
import { REPO_ROOT } from '@trainyard/devkit';
import { decodeNamedArrays } from '@trainyard/models';
import { FsObjectStore, readCheckpoint } from '@trainyard/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { relativeDistance } from '../../../test/cluster-client.js';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';

/**
 * The contract of data parallelism (DESIGN.md, "Training semantics"): after 20 steps, W ranks
 * with global batch B hold the same weights as one process with batch B on the same data
 * order, within float32 rounding. Each rank is a real OS process talking to a real Redis.
 */

function runRankProcess(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'services/worker/src/testing/rank-process.ts'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

async function trainJob(fx: RedisFixture, storeDir: string, spec: JobSpec): Promise<Float32Array> {
  const store = new JobStore(fx.redis, fx.keys);
  const { job } = await store.create(spec);
  const world = workerBounds(spec).max;
  const workerIds = Array.from({ length: world }, (_, r) => `${job.id}-w${r}`);
  const placed = await store.place(job.id, workerIds);
  expect(placed.generation).toBe(1);
  const results = await Promise.all(
    workerIds.map((workerId, rank) =>
      runRankProcess({
        REDIS_URL: fx.url,
        TRAINYARD_PREFIX: fx.prefix,
        JOB_ID: job.id,
        GENERATION: '1',
        RANK: String(rank),
        WORLD: String(world),
        WORKER_ID: workerId,
        STORE_DIR: storeDir,
      }),
    ),
  );
  for (const r of results) expect(r.code, r.output).toBe(0);
  const done = await store.mustGet(job.id);
  expect(done.state).toBe('SUCCEEDED');
  expect(done.progress?.step).toBe(20);
  const last = done.checkpoints.at(-1)!;
  expect(last.step).toBe(20);
  const { files } = await readCheckpoint(new FsObjectStore(storeDir), last.manifestKey);
  return decodeNamedArrays(files['weights.bin']!).data;
}

describe('distributed equivalence (real processes, real Redis)', () => {
  let fx: RedisFixture | null = null;
  afterEach(async () => {
    await fx?.cleanup();
    fx = null;
  });

  const mlp = { family: 'mlp', hidden: [64] };
  const cnn = {
    family: 'cnn',
    conv: [
      { filters: 4, kernelSize: 3 },
      { filters: 8, kernelSize: 3 },
    ],
    dense: [16],
  };
  it.each([
    ['mlp, sgd', mlp, { name: 'sgd', learningRate: 0.1 }],
    ['mlp, adam', mlp, { name: 'adam', learningRate: 0.001 }],
    ['cnn, adam', cnn, { name: 'adam', learningRate: 0.001 }],
  ] as const)(
    '2 ranks x 32 equal 1 rank x 64 after 20 steps (%s)',
    async (_name, model, optimizer) => {
      fx = await redisFixture();
      const storeDir = mkdtempSync(join(tmpdir(), 'trainyard-equiv-'));
      const base = {
        model,
        dataset: { name: 'mnist', trainSize: 1280, testSize: 100, splitSeed: 3 },
        batchSize: 64,
        optimizer,
        epochs: 1,
        seed: 11,
        checkpoint: { everySteps: 1000 },
        collective: { timeoutMs: 30_000 },
      };
      const [one, two] = await Promise.all([
        trainJob(fx, storeDir, JobSpec.parse({ ...base, workers: 1 })),
        trainJob(fx, storeDir, JobSpec.parse({ ...base, workers: 2 })),
      ]);
      if (model.family === 'mlp') expect(one.length).toBe(784 * 64 + 64 + 64 * 10 + 10);
      const distance = relativeDistance(one, two);
      expect(distance).toBeLessThanOrEqual(1e-5);
      // The training moved the weights far more than the tolerance (the test can fail).
      const init = await (async () => {
        const { buildModel, ClassifierProgram, createOptimizer } = await import('@trainyard/models');
        const { initBackend } = await import('@trainyard/engine');
        await initBackend('wasm');
        const parsed = JobSpec.parse({ ...base, workers: 1 });
        const p = new ClassifierProgram(
          buildModel(parsed.model, [28, 28, 1], 10, 11),
          createOptimizer(parsed.optimizer),
          10,
        );
        const w = p.exportWeights().data;
        p.dispose();
        return w;
      })();
      expect(relativeDistance(one, init)).toBeGreaterThan(1e-3);
    },
    120_000,
  );
});
