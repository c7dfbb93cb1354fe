import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** What a wasm kernel function receives (the engine passes the wasm backend itself). */
export interface WasmKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

export type WasmKernelFunc = (args: WasmKernelArgs) => tf.TensorInfo;

/** The kernel function registered for `kernelName` on wasm now; throws when there is none. */
export function wasmKernelFunc(kernelName: string): WasmKernelFunc {
  const config = tf.getKernel(kernelName, 'wasm');
  if (!config) throw new Error(`wasm backend has no ${kernelName} kernel`);
  return config.kernelFunc as unknown as WasmKernelFunc;
}

/**
 * Runs existing wasm kernels directly on TensorInfos from inside another kernel, the way
 * tfjs composes its own kernels (no engine, no tape, no Tensor objects), and remembers every
 * TensorInfo it made so that `dispose` frees all of them except the result.
 *
 * A reshape shares its input's data and takes a reference on it, so disposing each made
 * TensorInfo once (result excepted) releases exactly the references this scope took.
 */
export class KernelScope {
  private readonly made: tf.TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Runs `kernelName` (or `impl`, when given: e.g. the original of a kernel we replaced). */
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}, impl?: WasmKernelFunc) {
    const kernel = impl ?? wasmKernelFunc(kernelName);
    // Attribute maps are plain objects; tfjs' NamedAttrMap type cannot spell nested paddings.
    const out = kernel({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap });
    this.made.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    if (sameShape(x.shape, shape)) return x;
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    if (perm.every((p, i) => p === i)) return x;
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** Swaps the last two axes. */
  transposeInner(x: tf.TensorInfo): tf.TensorInfo {
    const r = x.shape.length;
    const perm = x.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
    return this.transpose(x, perm);
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    if (begin.every((b) => b === 0) && sameShape(size, x.shape)) return x;
    return this.run(tf.Slice, { x }, { begin, size });
  }

  pad(x: tf.TensorInfo, paddings: [number, number][], constantValue = 0): tf.TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run(tf.PadV2, { x }, { paddings, constantValue });
  }

  sum(x: tf.TensorInfo, axis: number[]): tf.TensorInfo {
    return this.run(tf.Sum, { x }, { axis, keepDims: false });
  }

  /** A new tensor holding `values` (small index data built in JS). */
  tensor(values: Int32Array | Float32Array, shape: number[], dtype: 'int32' | 'float32'): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, dtype, undefined, values);
    this.made.push(out);
    return out;
  }

  zeros(shape: number[], dtype: tf.DataType): tf.TensorInfo {
    return this.run(tf.Fill, {}, { shape, value: 0, dtype });
  }

  /** Frees everything this scope made except `keep` (the kernel's result). */
  dispose(keep?: tf.TensorInfo): void {
    for (const t of this.made) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.made.length = 0;
  }
}

/**
 * Runs `body` with a fresh scope and frees its intermediates, also when it throws. A result
 * that is one of the kernel's inputs (a no-op) gets its own reference, as a kernel output must.
 */
export function composeKernel(
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  body: (scope: KernelScope) => tf.TensorInfo,
): tf.TensorInfo {
  const scope = new KernelScope(backend);
  let out: tf.TensorInfo | undefined;
  try {
    out = body(scope);
    const result = out;
    if (Object.values(inputs).some((t) => t === result))
      out = scope.run(tf.Reshape, { x: result }, { shape: result.shape });
    return out;
  } finally {
    scope.dispose(out);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
