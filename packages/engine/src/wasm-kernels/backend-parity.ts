import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@trainyard/core';

/**
 * Test support: running one computation on the cpu backend (the reference) and on wasm, and
 * comparing. Tensors live on the backend that made them, so a computation builds its tensors
 * from plain arrays each time it runs.
 */

export type Computation = () => tf.Tensor | tf.Tensor[];

/** `count` seeded uniform values in [-1, 1). */
export function randomValues(count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed, 7);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

export interface BackendRun {
  readonly values: Float32Array[];
  readonly shapes: number[][];
  /** Tensors and backend buffers left behind by the computation (both should be 0). */
  readonly leakedTensors: number;
  readonly leakedBuffers: number;
}

/** Runs `compute` on `backendName` in a tidy scope and reads its outputs. */
export async function runOn(backendName: 'cpu' | 'wasm', compute: Computation): Promise<BackendRun> {
  if (!(await tf.setBackend(backendName))) throw new Error(`backend ${backendName} is not available`);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const outputs = tf.tidy(() => {
    const out = compute();
    return Array.isArray(out) ? out : [out];
  });
  const values = outputs.map((t) => Float32Array.from(t.dataSync()));
  const shapes = outputs.map((t) => t.shape.slice());
  tf.dispose(outputs);
  return {
    values,
    shapes,
    leakedTensors: tf.memory().numTensors - tensorsBefore,
    leakedBuffers: tf.engine().backend.numDataIds() - buffersBefore,
  };
}

/** max|a − b| / max|b| (0 when both are all zeros). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

export interface Parity {
  /** The largest relative error over the outputs, wasm against cpu. */
  readonly error: number;
  readonly wasm: BackendRun;
  readonly cpu: BackendRun;
}

/** Runs `compute` on cpu, then wasm, and compares every output (shapes must match). */
export async function parity(compute: Computation, reference: Computation = compute): Promise<Parity> {
  const cpu = await runOn('cpu', reference);
  const wasm = await runOn('wasm', compute);
  let error = 0;
  if (cpu.values.length !== wasm.values.length) error = Number.POSITIVE_INFINITY;
  cpu.values.forEach((ref, i) => {
    const got = wasm.values[i];
    const sameShape = JSON.stringify(cpu.shapes[i]) === JSON.stringify(wasm.shapes[i]);
    error = Math.max(error, got && sameShape ? relativeError(got, ref) : Number.POSITIVE_INFINITY);
  });
  return { error, wasm, cpu };
}
