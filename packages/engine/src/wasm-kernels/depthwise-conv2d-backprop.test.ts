import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues } from './backend-parity.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Pair = [number, number];

interface Case {
  x: [number, number, number, number];
  /** [fh, fw, C, M] */
  filter: [number, number, number, number];
  strides: number | Pair;
  dilations: number | Pair;
  pad: Pad;
  rounding?: 'floor' | 'round' | 'ceil';
}

const cases: Case[] = [
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 1], strides: 1, dilations: 1, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 2], strides: 1, dilations: 1, pad: 'valid' },
  { x: [3, 9, 7, 4], filter: [3, 3, 4, 1], strides: 2, dilations: 1, pad: 'same' },
  { x: [3, 9, 7, 2], filter: [3, 3, 2, 3], strides: 2, dilations: 1, pad: 'valid' },
  { x: [2, 11, 10, 2], filter: [5, 3, 2, 2], strides: [3, 2], dilations: 1, pad: 'same' },
  { x: [2, 6, 6, 5], filter: [2, 2, 5, 1], strides: 1, dilations: 1, pad: 'same' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 2], strides: 2, dilations: 1, pad: 1, rounding: 'ceil' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 1], strides: 1, dilations: 1, pad: 2 },
  {
    x: [2, 7, 9, 3],
    filter: [3, 2, 3, 2],
    strides: [2, 1],
    dilations: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 1], strides: 1, dilations: 2, pad: 'same' },
  { x: [2, 10, 9, 2], filter: [3, 2, 2, 2], strides: 1, dilations: [2, 3], pad: 'valid' },
  { x: [1, 8, 8, 2], filter: [2, 3, 2, 1], strides: 1, dilations: [3, 2], pad: 1 },
];

const label = (c: Case) =>
  `x ${c.x.join('x')} filter ${c.filter.join('x')} strides ${c.strides} dilations ${c.dilations} pad ${JSON.stringify(c.pad)}`;

const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : v);

/**
 * The cpu kernels ignore dilations (they only size the padding by them), so with dilations the
 * reference is the undilated problem with the filter spread out by zeros: same padding, same
 * output, and the filter gradient is the spread one sampled at the taps.
 */
function spreadFilterShape(c: Case): [number, number, number, number] {
  const [dh, dw] = pair(c.dilations);
  const [fh, fw, ch, m] = c.filter;
  return [(fh - 1) * dh + 1, (fw - 1) * dw + 1, ch, m];
}

function spreadFilter(c: Case, values: Float32Array): Float32Array {
  const [dh, dw] = pair(c.dilations);
  const [fh, fw, ch, m] = c.filter;
  const [, sw] = spreadFilterShape(c);
  const out = new Float32Array(tf.util.sizeFromShape(spreadFilterShape(c)));
  const inner = ch * m;
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      out.set(
        values.subarray((i * fw + j) * inner, (i * fw + j + 1) * inner),
        (i * dh * sw + j * dw) * inner,
      );
    }
  }
  return out;
}

function outShape(c: Case): number[] {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad, c.rounding, true)
    .outShape;
}

const attrsOf = (c: Case, extra: object) =>
  ({
    strides: c.strides,
    dilations: c.dilations,
    pad: c.pad,
    dimRoundingMode: c.rounding,
    ...extra,
  }) as unknown as tf.NamedAttrMap;

describe('depthwise conv2d backprop kernels on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(cases)(
    'DepthwiseConv2dNativeBackpropFilter equals cpu: $x / $filter / $strides / $dilations / $pad',
    async (c) => {
      const xs = randomValues(tf.util.sizeFromShape(c.x), 11);
      const dys = randomValues(tf.util.sizeFromShape(outShape(c)), 12);
      const dilated = pair(c.dilations).some((d) => d > 1);
      const run = (filterShape: number[], dilations: number | Pair) =>
        tf
          .engine()
          .runKernel(
            tf.DepthwiseConv2dNativeBackpropFilter,
            { x: tf.tensor(xs, c.x), dy: tf.tensor(dys, outShape(c)) },
            attrsOf(c, { filterShape, dilations }),
          ) as tf.Tensor4D;
      const result = await parity(
        () => run(c.filter, c.dilations),
        () => {
          if (!dilated) return run(c.filter, 1);
          const [dh, dw] = pair(c.dilations);
          const spread = run(spreadFilterShape(c), 1);
          return tf.stridedSlice(spread, [0, 0, 0, 0], spread.shape, [dh, dw, 1, 1]);
        },
      );
      expect(result.error, label(c)).toBeLessThan(1e-4);
      expect(result.wasm.leakedTensors).toBe(0);
      expect(result.wasm.leakedBuffers).toBe(0);
    },
  );

  it.each(cases)(
    'DepthwiseConv2dNativeBackpropInput equals cpu: $x / $filter / $strides / $dilations / $pad',
    async (c) => {
      const fs = randomValues(tf.util.sizeFromShape(c.filter), 13);
      const dys = randomValues(tf.util.sizeFromShape(outShape(c)), 14);
      const dilated = pair(c.dilations).some((d) => d > 1);
      const run = (filter: tf.Tensor, dilations: number | Pair) =>
        tf
          .engine()
          .runKernel(
            tf.DepthwiseConv2dNativeBackpropInput,
            { dy: tf.tensor(dys, outShape(c)), filter },
            attrsOf(c, { inputShape: c.x, dilations }),
          ) as tf.Tensor4D;
      const result = await parity(
        () => run(tf.tensor(fs, c.filter), c.dilations),
        () =>
          dilated
            ? run(tf.tensor(spreadFilter(c, fs), spreadFilterShape(c)), 1)
            : run(tf.tensor(fs, c.filter), 1),
      );
      expect(result.error, label(c)).toBeLessThan(1e-4);
      expect(result.wasm.leakedTensors).toBe(0);
      expect(result.wasm.leakedBuffers).toBe(0);
    },
  );

  it.each(cases.filter((c) => c.dilations === 1 && typeof c.pad !== 'object'))(
    'tf.grads of depthwiseConv2d wrt x and filter equals cpu: $x / $filter / $strides / $pad',
    async (c) => {
      const xs = randomValues(tf.util.sizeFromShape(c.x), 15);
      const fs = randomValues(tf.util.sizeFromShape(c.filter), 16);
      const ws = randomValues(tf.util.sizeFromShape(outShape(c)), 17);
      const result = await parity(() => {
        const w = tf.tensor(ws, outShape(c));
        const loss = (x: tf.Tensor, f: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.depthwiseConv2d(
                x as tf.Tensor4D,
                f as tf.Tensor4D,
                c.strides,
                c.pad as 'same',
                'NHWC',
                1,
                c.rounding,
              ),
              w,
            ),
          );
        return tf.grads(loss)([tf.tensor4d(xs, c.x), tf.tensor4d(fs, c.filter)]);
      });
      expect(result.error, label(c)).toBeLessThan(1e-4);
      expect(result.wasm.leakedTensors).toBe(0);
    },
  );

  it('tf.grads of separableConv2d equals cpu', async () => {
    const xs = randomValues(2 * 9 * 9 * 3, 18);
    const ds = randomValues(3 * 3 * 3 * 2, 19);
    const ps = randomValues(6 * 4, 20);
    const result = await parity(() => {
      const loss = (x: tf.Tensor, d: tf.Tensor, p: tf.Tensor) =>
        tf.sum(
          tf.square(tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 2, 'same')),
        );
      return tf.grads(loss)([
        tf.tensor4d(xs, [2, 9, 9, 3]),
        tf.tensor4d(ds, [3, 3, 3, 2]),
        tf.tensor4d(ps, [1, 1, 6, 4]),
      ]);
    });
    expect(result.error).toBeLessThan(1e-4);
  });
});
