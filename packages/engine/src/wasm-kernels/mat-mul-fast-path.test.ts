import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { parity, randomValues } from './backend-parity.js';
import {
  installWasmMatMulFastPath,
  uninstallWasmMatMulFastPath,
  wasmMatMulFastPathInstalled,
} from './mat-mul-fast-path.js';

const transposes = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** Operand shapes for op(a)·op(b) = [..., m, n] with inner size k. */
function shapes(
  outerA: number[],
  outerB: number[],
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
) {
  return { a: [...outerA, ...(ta ? [k, m] : [m, k])], b: [...outerB, ...(tb ? [n, k] : [k, n])] };
}

interface Case {
  name: string;
  outerA: number[];
  outerB: number[];
  m: number;
  k: number;
  n: number;
}

const cases: Case[] = [
  { name: 'rank 2', outerA: [], outerB: [], m: 33, k: 70, n: 20 },
  { name: 'rank 2, one row', outerA: [], outerB: [], m: 1, k: 9, n: 4 },
  { name: 'batched a, shared b', outerA: [3], outerB: [], m: 10, k: 12, n: 7 },
  { name: 'shared a, batched b', outerA: [1], outerB: [4], m: 6, k: 12, n: 9 },
  { name: 'batched, small (stock kernel)', outerA: [4], outerB: [4], m: 5, k: 6, n: 7 },
  { name: 'batched, large (one product at a time)', outerA: [3], outerB: [3], m: 50, k: 48, n: 52 },
  { name: 'rank 4, batched a, shared b', outerA: [2, 3], outerB: [], m: 8, k: 5, n: 6 },
  { name: 'rank 4, both batched', outerA: [2, 2], outerB: [2, 2], m: 48, k: 50, n: 49 },
];

describe('the wasm matrix-product fast path', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(() => {
    installWasmMatMulFastPath();
  });

  it('is installed by initBackend', () => {
    expect(wasmMatMulFastPathInstalled()).toBe(true);
  });

  describe.each(cases)('$name', (c) => {
    it.each(transposes)(
      'matMul and its gradients equal cpu (transposeA %s, transposeB %s)',
      async (ta, tb) => {
        const s = shapes(c.outerA, c.outerB, c.m, c.k, c.n, ta, tb);
        const as = randomValues(tf.util.sizeFromShape(s.a), 31);
        const bs = randomValues(tf.util.sizeFromShape(s.b), 32);
        const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(c.outerA, c.outerB), c.m, c.n];
        const ws = randomValues(tf.util.sizeFromShape(outShape), 33);
        const result = await parity(() => {
          const a = tf.tensor(as, s.a);
          const b = tf.tensor(bs, s.b);
          const w = tf.tensor(ws, outShape);
          const product = tf.matMul(a, b, ta, tb);
          // tfjs' BatchMatMul gradient does not sum over a broadcast batch (on any backend).
          if (c.outerA.join() !== c.outerB.join()) return product;
          const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w)))([
            a,
            b,
          ]);
          return [product, ...grads];
        });
        expect(result.error).toBeLessThan(1e-4);
        expect(result.wasm.leakedTensors).toBe(0);
        expect(result.wasm.leakedBuffers).toBe(0);
      },
    );
  });

  describe('_FusedMatMul', () => {
    const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
    it.each(activations)('with a bias and activation %s equals cpu in every form', async (activation) => {
      for (const [ta, tb] of transposes) {
        for (const [outerA, outerB] of [
          [[], []],
          [[3], []],
          [[2], [2]],
        ] as const) {
          const s = shapes([...outerA], [...outerB], 9, 11, 6, ta, tb);
          const as = randomValues(tf.util.sizeFromShape(s.a), 41);
          const bs = randomValues(tf.util.sizeFromShape(s.b), 42);
          const bias = randomValues(6, 43);
          const alpha = randomValues(6, 44);
          const result = await parity(() =>
            tf.fused.matMul({
              a: tf.tensor(as, s.a),
              b: tf.tensor(bs, s.b),
              transposeA: ta,
              transposeB: tb,
              bias: tf.tensor1d(bias),
              activation,
              ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor1d(alpha) } : {}),
              ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.1 } : {}),
            }),
          );
          expect(result.error, `${activation} ${ta} ${tb} ${outerA} ${outerB}`).toBeLessThan(1e-4);
          expect(result.wasm.leakedBuffers).toBe(0);
        }
      }
    });

    it('broadcasts a bias of rank 2 like cpu', async () => {
      const as = randomValues(2 * 5 * 4, 45);
      const bs = randomValues(4 * 3, 46);
      const bias = randomValues(5 * 3, 47);
      const result = await parity(() =>
        tf.fused.matMul({
          a: tf.tensor3d(as, [2, 5, 4]),
          b: tf.tensor2d(bs, [4, 3]),
          bias: tf.tensor2d(bias, [5, 3]),
          activation: 'relu',
        }),
      );
      expect(result.error).toBeLessThan(1e-4);
    });
  });

  it.each([
    { name: 'rank 2 inputs', input: [16, 20] },
    { name: 'rank 3 inputs', input: [4, 5, 20] },
  ])('dense layer gradients equal cpu ($name)', async ({ input }) => {
    const xs = randomValues(tf.util.sizeFromShape(input), 51);
    const weights = [
      randomValues(20 * 12, 52),
      randomValues(12, 53),
      randomValues(12 * 3, 54),
      randomValues(3, 55),
    ];
    const result = await parity(() => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ units: 12, activation: 'relu', inputShape: input.slice(1) }),
          tf.layers.dense({ units: 3 }),
        ],
      });
      model.setWeights([
        tf.tensor2d(weights[0]!, [20, 12]),
        tf.tensor1d(weights[1]!),
        tf.tensor2d(weights[2]!, [12, 3]),
        tf.tensor1d(weights[3]!),
      ]);
      const x = tf.tensor(xs, input);
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        model.trainableWeights.map((v) => v.read() as tf.Variable),
      );
      model.dispose();
      return [value, ...Object.values(grads)];
    });
    expect(result.error).toBeLessThan(1e-4);
    expect(result.wasm.leakedTensors).toBe(0);
  });

  it('can be taken out and put back, and gives the same products either way', async () => {
    const as = randomValues(30 * 20, 61);
    const bs = randomValues(25 * 20, 62);
    const product = () => tf.matMul(tf.tensor2d(as, [30, 20]), tf.tensor2d(bs, [25, 20]), false, true);
    uninstallWasmMatMulFastPath();
    expect(wasmMatMulFastPathInstalled()).toBe(false);
    const stock = await parity(product);
    installWasmMatMulFastPath();
    installWasmMatMulFastPath();
    const fast = await parity(product);
    expect(stock.error).toBeLessThan(1e-4);
    expect(fast.error).toBeLessThan(1e-4);
  });
});
