import { createHash } from 'node:crypto';
import { seededPermutation } from '@trainyard/core';

/** A labelled dataset held in memory: row i is x[i*featureSize ...], label y[i]. */
export interface InMemoryDataset {
  readonly name: string;
  readonly size: number;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  readonly sampleShape: readonly number[];
  readonly featureSize: number;
  readonly numClasses: number;
  readonly x: Float32Array;
  readonly y: Uint8Array;
  /** sha256 over features and labels (first 16 hex digits): a checkpoint names the data it saw. */
  readonly version: string;
}

/** One batch: features row-major, labels one-hot. */
export interface Batch {
  readonly size: number;
  readonly x: Float32Array;
  readonly yOneHot: Float32Array;
  readonly labels: Uint8Array;
}

export function makeDataset(
  name: string,
  x: Float32Array,
  y: Uint8Array,
  sampleShape: readonly number[],
  numClasses: number,
): InMemoryDataset {
  const featureSize = sampleShape.reduce((a, b) => a * b, 1);
  if (x.length !== y.length * featureSize) {
    throw new Error(
      `dataset ${name}: ${x.length} features do not make ${y.length} samples of ${featureSize}`,
    );
  }
  const version = createHash('sha256')
    .update(Buffer.from(x.buffer, x.byteOffset, x.byteLength))
    .update(y)
    .digest('hex')
    .slice(0, 16);
  return Object.freeze({ name, size: y.length, sampleShape, featureSize, numClasses, x, y, version });
}

/** The rows at `indices`, in that order. */
export function subset(ds: InMemoryDataset, indices: ArrayLike<number>, name = ds.name): InMemoryDataset {
  const f = ds.featureSize;
  const x = new Float32Array(indices.length * f);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    x.set(ds.x.subarray(src * f, (src + 1) * f), i * f);
    y[i] = ds.y[src]!;
  }
  return makeDataset(name, x, y, ds.sampleShape, ds.numClasses);
}

export function gatherBatch(ds: InMemoryDataset, indices: ArrayLike<number>): Batch {
  const f = ds.featureSize;
  const n = indices.length;
  const x = new Float32Array(n * f);
  const labels = new Uint8Array(n);
  const yOneHot = new Float32Array(n * ds.numClasses);
  for (let i = 0; i < n; i++) {
    const src = indices[i]!;
    if (src >= ds.size) throw new RangeError(`sample ${src} is outside dataset ${ds.name} of ${ds.size}`);
    x.set(ds.x.subarray(src * f, (src + 1) * f), i * f);
    const label = ds.y[src]!;
    labels[i] = label;
    yOneHot[i * ds.numClasses + label] = 1;
  }
  return { size: n, x, yOneHot, labels };
}

/**
 * A seeded split of every sample into disjoint train and test sets: a permutation of all
 * rows, the first trainSize for training, the next testSize for testing.
 */
export function splitDataset(
  ds: InMemoryDataset,
  options: { trainSize: number; testSize: number; seed: number },
): { train: InMemoryDataset; test: InMemoryDataset } {
  const { trainSize, testSize, seed } = options;
  if (trainSize + testSize > ds.size) {
    throw new RangeError(`${ds.name} has ${ds.size} samples; cannot split ${trainSize} + ${testSize}`);
  }
  const perm = seededPermutation(ds.size, seed, 0x5eed);
  return {
    train: subset(ds, perm.subarray(0, trainSize), `${ds.name}-train`),
    test: subset(ds, perm.subarray(trainSize, trainSize + testSize), `${ds.name}-test`),
  };
}
