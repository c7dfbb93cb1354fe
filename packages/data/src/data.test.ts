import { describe, expect, it } from 'vitest';
import { EpochPlan } from './epoch-plan.js';
import { gatherBatch } from './in-memory-dataset.js';
import { loadDataset } from './load-dataset.js';
import { loadMnist } from './mnist.js';

describe('mnist', () => {
  it('ships 10,000 real digits with every class present', () => {
    const all = loadMnist();
    expect(all.size).toBe(10000);
    expect(all.featureSize).toBe(784);
    const counts = new Array(10).fill(0);
    for (const label of all.y) counts[label]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    let max = 0;
    for (const v of all.x) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });

  it('splits all digits into disjoint, seeded train and test sets of the asked sizes', () => {
    const a = loadDataset({ name: 'mnist', trainSize: 8000, testSize: 2000, splitSeed: 7 });
    const b = loadDataset({ name: 'mnist', trainSize: 8000, testSize: 2000, splitSeed: 7 });
    const c = loadDataset({ name: 'mnist', trainSize: 8000, testSize: 2000, splitSeed: 8 });
    expect(a.train.size).toBe(8000);
    expect(a.test.size).toBe(2000);
    expect(a.version).toBe(b.version);
    expect(Buffer.from(a.test.x.buffer).equals(Buffer.from(b.test.x.buffer))).toBe(true);
    expect(Buffer.from(a.test.x.buffer).equals(Buffer.from(c.test.x.buffer))).toBe(false);
    // disjoint: no test image equals a train image row (check via a row hash set)
    const rowKey = (x: Float32Array, i: number) =>
      Buffer.from(x.buffer, i * 784 * 4, 784 * 4).toString('base64');
    const trainRows = new Set<string>();
    for (let i = 0; i < a.train.size; i++) trainRows.add(rowKey(a.train.x, i));
    let shared = 0;
    for (let i = 0; i < a.test.size; i++) if (trainRows.has(rowKey(a.test.x, i))) shared++;
    expect(shared).toBeLessThan(5); // MNIST holds a few exact duplicate images; the split itself is disjoint by index
  });
});

describe('EpochPlan', () => {
  it('gives each rank its slice of the same seeded global batch', () => {
    const one = new EpochPlan(1000, 64, 1, 3);
    const two = new EpochPlan(1000, 64, 2, 3);
    expect(two.stepsPerEpoch).toBe(15);
    for (const [epoch, step] of [
      [0, 0],
      [1, 14],
      [4, 7],
    ] as const) {
      const whole = Array.from(one.rankBatch(epoch, step, 0));
      const joined = [...two.rankBatch(epoch, step, 0), ...two.rankBatch(epoch, step, 1)];
      expect(joined).toEqual(whole);
    }
    expect(Array.from(one.epochOrder(0))).not.toEqual(Array.from(one.epochOrder(1)));
  });

  it('refuses a dataset smaller than a global batch and a batch that does not divide', () => {
    expect(() => new EpochPlan(10, 64, 2, 0)).toThrow(/smaller than one global batch/);
    expect(() => new EpochPlan(100, 63, 2, 0)).toThrow(/does not divide/);
  });

  it('gathers one-hot batches', () => {
    const { train } = loadDataset({ name: 'mnist', trainSize: 100, testSize: 10, splitSeed: 0 });
    const batch = gatherBatch(train, [3, 1]);
    expect(batch.x.length).toBe(2 * 784);
    expect(batch.yOneHot[batch.labels[0]!]).toBe(1);
    expect(batch.yOneHot.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
