import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues } from './backend-parity.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  rounding?: 'floor' | 'round' | 'ceil';
}

const cases: Case[] = [
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 9, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [2, 10, 11, 4], filter: [5, 3, 4, 3], strides: [3, 2], pad: 'same' },
  { x: [2, 10, 11, 4], filter: [2, 2, 4, 3], strides: [1, 3], pad: 'valid' },
  { x: [1, 7, 7, 1], filter: [1, 1, 1, 6], strides: 2, pad: 'valid' },
  { x: [2, 6, 6, 3], filter: [4, 4, 3, 2], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 2 },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 1, rounding: 'floor' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 1, rounding: 'ceil' },
  {
    x: [2, 7, 9, 3],
    filter: [3, 2, 3, 4],
    strides: [2, 1],
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  // Padding larger than the filter: outputs that read only zeros, rows of dy that are cropped.
  {
    x: [1, 5, 5, 2],
    filter: [2, 2, 2, 3],
    strides: 1,
    pad: [
      [0, 0],
      [3, 0],
      [0, 4],
      [0, 0],
    ],
  },
];

const label = (c: Case) =>
  `x ${c.x.join('x')} filter ${c.filter.join('x')} strides ${c.strides} pad ${JSON.stringify(c.pad)}${c.rounding ? ` ${c.rounding}` : ''}`;

describe('conv2d backprop kernels on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(cases)('Conv2DBackpropFilter equals cpu: $x / $filter / $strides / $pad', async (c) => {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.rounding);
    const xs = randomValues(tf.util.sizeFromShape(c.x), 1);
    const dys = randomValues(tf.util.sizeFromShape(info.outShape), 2);
    const result = await parity(
      () =>
        tf
          .engine()
          .runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(xs, c.x), dy: tf.tensor(dys, info.outShape) }, {
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: c.rounding,
            filterShape: c.filter,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    expect(result.error, label(c)).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
    expect(result.wasm.leakedBuffers).toBe(0);
  });

  it.each(cases)('Conv2DBackpropInput equals cpu: $x / $filter / $strides / $pad', async (c) => {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.rounding);
    const fs = randomValues(tf.util.sizeFromShape(c.filter), 1);
    const dys = randomValues(tf.util.sizeFromShape(info.outShape), 2);
    const result = await parity(
      () =>
        tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropInput,
            { dy: tf.tensor(dys, info.outShape), filter: tf.tensor(fs, c.filter) },
            {
              strides: c.strides,
              pad: c.pad,
              dataFormat: 'NHWC',
              dimRoundingMode: c.rounding,
              inputShape: c.x,
            } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
    );
    expect(result.error, label(c)).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
    expect(result.wasm.leakedBuffers).toBe(0);
  });

  it.each(cases.filter((c) => typeof c.pad !== 'object' && c.rounding === undefined))(
    'tf.grad of conv2d wrt the filter (and x) equals cpu: $x / $filter / $strides / $pad',
    async (c) => {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
      const xs = randomValues(tf.util.sizeFromShape(c.x), 3);
      const fs = randomValues(tf.util.sizeFromShape(c.filter), 4);
      const ws = randomValues(tf.util.sizeFromShape(info.outShape), 5);
      const result = await parity(() => {
        const x = tf.tensor4d(xs, c.x);
        const w = tf.tensor(ws, info.outShape);
        const loss = (input: tf.Tensor, filter: tf.Tensor) =>
          tf.sum(
            tf.mul(tf.conv2d(input as tf.Tensor4D, filter as tf.Tensor4D, c.strides, c.pad as 'same'), w),
          );
        return tf.grads(loss)([x, tf.tensor4d(fs, c.filter)]);
      });
      expect(result.error, label(c)).toBeLessThan(1e-4);
      expect(result.wasm.leakedTensors).toBe(0);
    },
  );

  it('the gradient of conv2dTranspose wrt its filter (a backprop filter of dy by x) equals cpu', async () => {
    const xShape: [number, number, number, number] = [2, 5, 6, 4];
    const filterShape: [number, number, number, number] = [3, 3, 2, 4]; // [fh, fw, out, in]
    const outShape: [number, number, number, number] = [2, 10, 12, 2];
    const xs = randomValues(tf.util.sizeFromShape(xShape), 6);
    const fs = randomValues(tf.util.sizeFromShape(filterShape), 7);
    const result = await parity(() => {
      const loss = (x: tf.Tensor, f: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2dTranspose(x as tf.Tensor4D, f as tf.Tensor4D, outShape, 2, 'same')));
      return tf.grads(loss)([tf.tensor4d(xs, xShape), tf.tensor4d(fs, filterShape)]);
    });
    expect(result.error).toBeLessThan(1e-4);
  });

  it('supports NCHW inputs like the cpu kernels do', async () => {
    const x: [number, number, number, number] = [2, 3, 8, 7]; // N C H W
    const filter: [number, number, number, number] = [3, 3, 3, 4];
    const info = tf.backend_util.computeConv2DInfo(
      x,
      filter,
      2,
      1,
      'same',
      undefined,
      false,
      'channelsFirst',
    );
    const xs = randomValues(tf.util.sizeFromShape(x), 8);
    const fs = randomValues(tf.util.sizeFromShape(filter), 9);
    const dys = randomValues(tf.util.sizeFromShape(info.outShape), 10);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW' };
    const result = await parity(() => [
      tf
        .engine()
        .runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(xs, x), dy: tf.tensor(dys, info.outShape) }, {
          ...attrs,
          filterShape: filter,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      tf
        .engine()
        .runKernel(
          tf.Conv2DBackpropInput,
          { dy: tf.tensor(dys, info.outShape), filter: tf.tensor(fs, filter) },
          { ...attrs, inputShape: x } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    ]);
    expect(result.error).toBeLessThan(1e-4);
  });
});
