/**
 * Child of benchmarks/train-step.ts: times training steps of the MLP and the CNN on ONE
 * backend (one process per backend, as a worker would run) and prints one JSON line.
 * Batch 64, Adam 1e-3, softmax cross-entropy, a fixed random batch; the reducer is the
 * identity (one rank), so this is the compute of a step: gradients, flatten, apply.
 *   node --import tsx benchmarks/train-step-backend.ts --backend wasm [--steps 20]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '@trainyard/core';
import { type BackendPreference, initBackend } from '@trainyard/engine';
import { buildModel, ClassifierProgram, createOptimizer } from '@trainyard/models';

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'wasm' }, steps: { type: 'string', default: '20' } },
});
const backend = await initBackend(values.backend as BackendPreference);
const B = 64;
const models: { name: string; spec: ModelSpec; shape: number[] }[] = [
  { name: 'mlp', spec: { family: 'mlp', hidden: [256, 128], activation: 'relu' }, shape: [784] },
  {
    name: 'cnn',
    spec: {
      family: 'cnn',
      conv: [
        { filters: 16, kernelSize: 3, strides: 1, padding: 'valid', pool: 2 },
        { filters: 32, kernelSize: 3, strides: 1, padding: 'valid', pool: 2 },
      ],
      dense: [64],
      activation: 'relu',
    },
    shape: [28, 28, 1],
  },
];

const rows = [];
for (const m of models) {
  // The pure-JS cpu backend takes seconds per CNN step: time fewer steps there.
  const steps = backend.name === 'cpu' && m.name === 'cnn' ? 3 : Number(values.steps);
  const warmup = backend.name === 'cpu' && m.name === 'cnn' ? 1 : 5;
  const program = new ClassifierProgram(
    buildModel(m.spec, m.shape, 10, 1),
    createOptimizer({ name: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
    10,
  );
  const x = new Float32Array(B * 784).map((_, i) => ((i * 2654435761) % 1000) / 1000);
  const yOneHot = new Float32Array(B * 10);
  for (let i = 0; i < B; i++) yOneHot[i * 10 + ((i * 7) % 10)] = 1;
  const batch = { size: B, x, yOneHot };
  const identity = async (flat: Float32Array) => flat;
  try {
    for (let i = 0; i < warmup; i++) await program.step(batch, identity);
  } catch (err) {
    rows.push({ model: m.name, error: (err as Error).message });
    program.dispose();
    continue;
  }
  const times: number[] = [];
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await program.step(batch, identity);
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  rows.push({
    model: m.name,
    parameters: program.parameterCount,
    steps,
    medianMs: sorted[Math.floor(sorted.length / 2)],
    minMs: sorted[0],
    leakedTensors: tf.memory().numTensors - tensorsBefore,
  });
  program.dispose();
}
console.log(JSON.stringify({ backend, rows }));
