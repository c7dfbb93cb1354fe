import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@trainyard/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from './build-model.js';
import {
  ClassifierProgram,
  createOptimizer,
  decodeNamedArrays,
  encodeNamedArrays,
} from './classifier-program.js';

const mlp = { family: 'mlp' as const, hidden: [16, 8], activation: 'relu' as const };
const adam = { name: 'adam' as const, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

function toyBatch(n: number, seed = 1) {
  const x = new Float32Array(n * 4);
  const yOneHot = new Float32Array(n * 3);
  const labels = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      x[i * 4 + j] = s / 2 ** 31;
    }
    const label = x[i * 4]! > 0.66 ? 2 : x[i * 4]! > 0.33 ? 1 : 0;
    labels[i] = label;
    yOneHot[i * 3 + label] = 1;
  }
  return { size: n, x, yOneHot, labels };
}

const identity = async (flat: Float32Array) => flat;

describe('ClassifierProgram', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('initialises identical weights from the same seed and different ones from another', () => {
    const a = new ClassifierProgram(buildModel(mlp, [4], 3, 42), createOptimizer(adam), 3);
    const b = new ClassifierProgram(buildModel(mlp, [4], 3, 42), createOptimizer(adam), 3);
    const c = new ClassifierProgram(buildModel(mlp, [4], 3, 43), createOptimizer(adam), 3);
    expect(a.weightsHash()).toBe(b.weightsHash());
    expect(a.weightsHash()).not.toBe(c.weightsHash());
    for (const p of [a, b, c]) p.dispose();
  });

  it('learns a toy problem and leaks no tensors over 50 steps', async () => {
    const program = new ClassifierProgram(buildModel(mlp, [4], 3, 1), createOptimizer(adam), 3);
    const batch = toyBatch(64);
    const first = await program.step(batch, identity);
    await program.step(batch, identity); // optimizer slots are created in the first steps
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 50; i++) last = await program.step(batch, identity);
    expect(tf.memory().numTensors).toBe(before);
    expect(last.loss).toBeLessThan(first.loss * 0.7);
    const report = program.evaluate(batch.x, batch.labels);
    expect(report.accuracy).toBeGreaterThan(0.6);
    program.dispose();
  });

  it('refuses a non-finite reduced gradient before applying it', async () => {
    const program = new ClassifierProgram(buildModel(mlp, [4], 3, 1), createOptimizer(adam), 3);
    const hash = program.weightsHash();
    await expect(
      program.step(toyBatch(8), async (flat) => {
        const out = flat.slice();
        out[3] = Number.NaN;
        return out;
      }),
    ).rejects.toMatchObject({ code: 'TRAINYARD_ERR_TRAINING_NONFINITE' });
    expect(program.weightsHash()).toBe(hash);
    program.dispose();
  });

  it('round-trips weights and optimizer state through bytes', async () => {
    const a = new ClassifierProgram(buildModel(mlp, [4], 3, 5), createOptimizer(adam), 3);
    // 12 steps: tfjs recomputes Adam's beta powers with pow() on restore, which differs in the last bit here.
    for (let i = 0; i < 12; i++) await a.step(toyBatch(16, i + 1), identity);
    const weights = encodeNamedArrays(a.exportWeights());
    const slots = encodeNamedArrays(await a.exportOptimizerState());
    const b = new ClassifierProgram(buildModel(mlp, [4], 3, 99), createOptimizer(adam), 3);
    b.importWeights(decodeNamedArrays(weights));
    await b.importOptimizerState(decodeNamedArrays(slots));
    expect(b.weightsHash()).toBe(a.weightsHash());
    await a.step(toyBatch(16, 9), identity);
    await b.step(toyBatch(16, 9), identity);
    expect(b.weightsHash()).toBe(a.weightsHash());
    a.dispose();
    b.dispose();
  });

  it('restores Adam bit for bit: its beta powers are the running products, not pow()', async () => {
    const betas = (p: ClassifierProgram) => {
      const adam = p.optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
      return [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]];
    };
    const a = new ClassifierProgram(buildModel(mlp, [4], 3, 5), createOptimizer(adam), 3);
    let differedFromPow = 0;
    for (let n = 1; n <= 40; n++) {
      await a.step(toyBatch(8, n), identity);
      const b = new ClassifierProgram(buildModel(mlp, [4], 3, 5), createOptimizer(adam), 3);
      await b.importOptimizerState(decodeNamedArrays(encodeNamedArrays(await a.exportOptimizerState())));
      expect(betas(b)).toEqual(betas(a));
      const pow = tf.tidy(() => tf.pow(tf.scalar(0.999), n + 1).dataSync()[0]);
      if (pow !== betas(a)[1]) differedFromPow++;
      b.dispose();
    }
    expect(differedFromPow).toBeGreaterThan(0); // the case this guards against does occur
    a.dispose();
  });
});
