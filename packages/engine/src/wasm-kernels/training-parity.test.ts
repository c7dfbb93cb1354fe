import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues } from './backend-parity.js';
import { kernelsMissingOn } from './kernel-coverage.js';

interface Input {
  shape: number[];
  dtype?: 'float32' | 'int32';
  /** For int32 inputs: values are drawn in [0, range). */
  range?: number;
}

/**
 * The gradients (and loss) of one training step of `build()` on the same seeded weights and
 * inputs, wasm against cpu: every kernel on the way must exist on wasm and agree.
 */
async function stepParity(build: () => tf.LayersModel, inputs: Input[]) {
  const data = inputs.map((input, i) => {
    const values = randomValues(tf.util.sizeFromShape(input.shape), 100 + i);
    return input.range ? values.map((v) => Math.floor(((v + 1) / 2) * input.range!)) : values;
  });
  let weightValues: Float32Array[] | null = null;
  return parity(() => {
    const model = build();
    weightValues ??= model.weights.map((w, i) =>
      randomValues(tf.util.sizeFromShape(w.shape as number[]), 200 + i),
    );
    model.setWeights(model.weights.map((w, i) => tf.tensor(weightValues![i]!, w.shape as number[])));
    const xs = inputs.map((input, i) => tf.tensor(data[i]!, input.shape, input.dtype ?? 'float32'));
    const { value, grads } = tf.variableGrads(
      () => {
        const out = model.apply(xs.length === 1 ? xs[0]! : xs, { training: true }) as tf.Tensor;
        return tf.mean(tf.square(out)) as tf.Scalar;
      },
      model.trainableWeights.map((v) => v.read() as tf.Variable),
    );
    model.dispose();
    return [value, ...Object.values(grads)];
  });
}

describe('training steps on wasm match cpu', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('leaves only kernels no training step needs missing on wasm', () => {
    expect(kernelsMissingOn('wasm')).toEqual([
      'Complex',
      'ComplexAbs',
      'Draw',
      'Einsum',
      'FFT',
      'IFFT',
      'Imag',
      'RaggedGather',
      'RaggedRange',
      'RaggedTensorToTensor',
      'Real',
      'StaticRegexReplace',
    ]);
  });

  it('CNN: conv2d, batch norm, max and average pooling, dense', async () => {
    const result = await stepParity(
      () =>
        tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
            tf.layers.batchNormalization(),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same' }),
            tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 5 }),
          ],
        }),
      [{ shape: [3, 12, 12, 2] }],
    );
    expect(result.error).toBeLessThan(1e-4);
  });

  it('conv2dTranspose, depthwise and separable convolutions', async () => {
    const result = await stepParity(
      () =>
        tf.sequential({
          layers: [
            tf.layers.depthwiseConv2d({
              inputShape: [9, 9, 3],
              kernelSize: 3,
              depthMultiplier: 2,
              padding: 'same',
            }),
            tf.layers.separableConv2d({ filters: 4, kernelSize: 3, strides: 2 }),
            tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
            tf.layers.globalAveragePooling2d({}),
          ],
        }),
      [{ shape: [2, 9, 9, 3] }],
    );
    expect(result.error).toBeLessThan(1e-4);
  });

  it('embedding, LSTM and GRU', async () => {
    const result = await stepParity(
      () =>
        tf.sequential({
          layers: [
            tf.layers.embedding({ inputDim: 20, outputDim: 6, inputLength: 5 }),
            tf.layers.lstm({ units: 7, returnSequences: true }),
            tf.layers.gru({ units: 4 }),
            tf.layers.dense({ units: 3 }),
          ],
        }),
      [{ shape: [3, 5], dtype: 'int32', range: 20 }],
    );
    expect(result.error).toBeLessThan(1e-4);
  });

  it('layer normalization and dot-product attention', async () => {
    const t = 6;
    const d = 8;
    const data = randomValues(2 * t * d, 300);
    const weights = [0, 1, 2].map((i) => randomValues(d * d, 301 + i));
    const result = await parity(() => {
      const norm = tf.sequential({ layers: [tf.layers.layerNormalization({ inputShape: [t, d] })] });
      const [wq, wk, wv] = weights.map((w) => tf.variable(tf.tensor2d(w, [d, d])));
      const x = tf.tensor3d(data, [2, t, d]);
      const { value, grads } = tf.variableGrads(() => {
        const h = norm.apply(x, { training: true }) as tf.Tensor3D;
        const q = tf.matMul(h, wq!.expandDims(0).tile([2, 1, 1]) as tf.Tensor3D);
        const k = tf.matMul(h, wk!.expandDims(0).tile([2, 1, 1]) as tf.Tensor3D);
        const v = tf.matMul(h, wv!.expandDims(0).tile([2, 1, 1]) as tf.Tensor3D);
        const attention = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)));
        return tf.mean(tf.square(tf.matMul(attention, v))) as tf.Scalar;
      }, [...norm.trainableWeights.map((w) => w.read() as tf.Variable), wq!, wk!, wv!]);
      norm.dispose();
      tf.dispose([wq!, wk!, wv!]);
      return [value, ...Object.values(grads)];
    });
    expect(result.error).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
  });
});
