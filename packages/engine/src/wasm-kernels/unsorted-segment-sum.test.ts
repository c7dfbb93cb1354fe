import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues } from './backend-parity.js';

describe('UnsortedSegmentSum on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  const cases: { xShape: number[]; ids: number[]; segments: number }[] = [
    { xShape: [6], ids: [0, 2, 2, 1, 0, 2], segments: 3 },
    { xShape: [6, 4], ids: [3, 1, 3, 3, 0, 1], segments: 5 },
    { xShape: [5, 3, 2], ids: [1, 1, 1, 1, 1], segments: 2 },
    // Ids outside [0, numSegments) are dropped, as on cpu.
    { xShape: [6, 3], ids: [0, -1, 2, 7, 2, 3], segments: 4 },
    { xShape: [40, 16], ids: Array.from({ length: 40 }, (_, i) => (i * 7) % 11), segments: 11 },
  ];

  it.each(cases)('equals cpu: x $xShape, ids $ids, $segments segments', async ({ xShape, ids, segments }) => {
    const xs = randomValues(tf.util.sizeFromShape(xShape), 21);
    const result = await parity(() =>
      tf.unsortedSegmentSum(tf.tensor(xs, xShape), tf.tensor1d(ids, 'int32'), segments),
    );
    expect(result.error).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
    expect(result.wasm.leakedBuffers).toBe(0);
  });

  it('sums int32 values exactly', async () => {
    const result = await parity(() =>
      tf.unsortedSegmentSum(
        tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'),
        tf.tensor1d([1, 0, 1], 'int32'),
        3,
      ),
    );
    expect(result.error).toBe(0);
    expect(Array.from(result.wasm.values[0]!)).toEqual([3, 4, 6, 8, 0, 0]);
  });

  it.each([0, 1, 2])('the gradient of gather along axis %i (repeated indices) equals cpu', async (axis) => {
    const shape = [7, 5, 4];
    const indices = [3, 0, 3, 6, 1, 3, 0];
    const valid = indices.map((i) => i % shape[axis]!);
    const xs = randomValues(tf.util.sizeFromShape(shape), 22);
    const outShape = shape.slice();
    outShape[axis] = valid.length;
    const ws = randomValues(tf.util.sizeFromShape(outShape), 23);
    const result = await parity(() => {
      const w = tf.tensor(ws, outShape);
      const idx = tf.tensor1d(valid, 'int32');
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, idx, axis), w)))(tf.tensor(xs, shape));
    });
    expect(result.error).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
  });

  it('the gradient of an embedding layer equals cpu', async () => {
    const vocab = 50;
    const dim = 8;
    const tokens = Array.from({ length: 4 * 6 }, (_, i) => (i * 13) % vocab);
    const table = randomValues(vocab * dim, 24);
    const ws = randomValues(4 * 6 * dim, 25);
    const result = await parity(() => {
      const model = tf.sequential({
        layers: [tf.layers.embedding({ inputDim: vocab, outputDim: dim, inputLength: 6 })],
      });
      model.setWeights([tf.tensor2d(table, [vocab, dim])]);
      const input = tf.tensor2d(tokens, [4, 6], 'int32');
      const w = tf.tensor3d(ws, [4, 6, dim]);
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(model.apply(input) as tf.Tensor, w)) as tf.Scalar,
        model.trainableWeights.map((v) => v.read() as tf.Variable),
      );
      model.dispose();
      return Object.values(grads);
    });
    expect(result.error).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
  });
});
