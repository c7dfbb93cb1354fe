import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues, runOn } from './backend-parity.js';
import { replaceWasmKernel, restoreWasmKernel } from './kernel-replacement.js';
import { maxPoolGrad } from './max-pool-grad.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface Case {
  x: [number, number, number, number];
  pool: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  rounding?: 'floor' | 'round' | 'ceil';
}

const cases: Case[] = [
  { x: [2, 8, 8, 3], pool: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 7, 3], pool: 2, strides: 2, pad: 'same' },
  { x: [2, 9, 9, 2], pool: 3, strides: 2, pad: 'valid' },
  { x: [2, 9, 9, 2], pool: 3, strides: 1, pad: 'same' },
  { x: [1, 10, 11, 4], pool: [3, 2], strides: [2, 3], pad: 'same' },
  { x: [2, 7, 7, 1], pool: 2, strides: 3, pad: 'valid' },
  { x: [2, 9, 8, 2], pool: 3, strides: 2, pad: 1, rounding: 'ceil' },
  {
    x: [2, 6, 7, 2],
    pool: 2,
    strides: 2,
    pad: [
      [0, 0],
      [1, 0],
      [1, 2],
      [0, 0],
    ],
  },
];

/** Values in [-1, 1) rounded to quarters: many windows all ≤ 0, and ties. */
const quantized = (count: number, seed: number) =>
  randomValues(count, seed).map((v) => Math.round(v * 4) / 4);

describe('MaxPoolGrad on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(cases)('equals cpu (first maximum of each window): $x / $pool / $strides / $pad', async (c) => {
    const xs = quantized(tf.util.sizeFromShape(c.x), 71);
    // The pooled output from cpu: wasm's own MaxPool is wrong when a rounding mode rounds the
    // output size up (XNNPACK sizes it by floor), which is no concern of the gradient kernel.
    const pooled = await runOn('cpu', () =>
      tf.maxPool(tf.tensor4d(xs, c.x), c.pool, c.strides, c.pad as 'same', c.rounding),
    );
    const yShape = pooled.shapes[0]!;
    const dys = randomValues(tf.util.sizeFromShape(yShape), 72);
    const result = await parity(() => {
      const x = tf.tensor4d(xs, c.x);
      const y = tf.tensor(pooled.values[0]!, yShape);
      const dy = tf.tensor(dys, yShape);
      return tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: y }, {
        filterSize: c.pool,
        strides: c.strides,
        pad: c.pad,
        dimRoundingMode: c.rounding,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
    });
    expect(result.error).toBeLessThan(1e-6);
    expect(result.wasm.leakedTensors).toBe(0);
    expect(result.wasm.leakedBuffers).toBe(0);
  });

  it('tf.grad of maxPool after a layer that goes negative equals cpu', async () => {
    const xs = randomValues(3 * 12 * 12 * 4, 73);
    const ws = randomValues(3 * 6 * 6 * 4, 74);
    const result = await parity(() => {
      const w = tf.tensor4d(ws, [3, 6, 6, 4]);
      return tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(tf.tanh(x as tf.Tensor4D), 2, 2, 'valid'), w)),
      )(tf.tensor4d(xs, [3, 12, 12, 4]));
    });
    expect(result.error).toBeLessThan(1e-5);
  });

  it('replaces a stock kernel that drops the gradient of windows whose maximum is ≤ 0', async () => {
    // Window 1 is all negative: its gradient belongs at its maximum, -1 (position 6).
    const compute = () =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')))(
        tf.tensor4d([5, 1, -3, -4, 2, 3, -1, -2], [1, 2, 4, 1]),
      );
    restoreWasmKernel(tf.MaxPoolGrad);
    try {
      const stock = await parity(compute);
      expect(Array.from(stock.wasm.values[0]!)).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    } finally {
      replaceWasmKernel(tf.MaxPoolGrad, () => maxPoolGrad);
    }
    const fixed = await parity(compute);
    expect(Array.from(fixed.wasm.values[0]!)).toEqual([1, 0, 0, 0, 0, 0, 1, 0]);
    expect(fixed.error).toBe(0);
  });
});
