import * as tf from '@tensorflow/tfjs';
import { replaceWasmKernel, restoreWasmKernel, wasmKernelReplaced } from './kernel-replacement.js';
import {
  composeKernel,
  type KernelScope,
  sizeOf,
  type WasmKernelArgs,
  type WasmKernelFunc,
  wasmKernelFunc,
} from './kernel-scope.js';

/**
 * The wasm backend's matrix products reach XNNPACK only in one form: no transpose and a batch
 * of one on both sides (tfjs-backend-wasm `batch_mat_mul_impl.cc`). Every other form — the
 * aᵀ·b and a·bᵀ products of every backward pass, and any batched product — runs a scalar
 * blocked triple loop that is 10-20x slower (and, for _FusedMatMul with a bias, adds the bias
 * of the last column to every row but the first).
 *
 * These kernels bring every float32 product to the fast form by composing the backend's own
 * kernels: Transpose the operand that is transposed (or, when cheaper, compute (bᵀ·aᵀ)ᵀ), fold
 * a batch into the rows when the other side is shared, or run a batch of equal-sized products
 * one by one when each is large enough. The original kernel does the multiplication.
 */

/** Per-product work (multiply-adds) from which running a batch one product at a time pays. */
const MIN_MACS_PER_BATCH_ITEM = 48 * 48 * 48;

type Nn = (scope: KernelScope, a: tf.TensorInfo, b: tf.TensorInfo) => tf.TensorInfo;

/**
 * op(a)·op(b) for rank-3 operands with a batch of one each, calling `nn` (the original kernel,
 * transposes off) once. Picks between transposing the transposed operands (then XNNPACK packs
 * op(b): K·N) and computing (op(b)ᵀ·op(a)ᵀ)ᵀ (packs op(a)ᵀ: K·M, transposes the M·N result),
 * by the elements each moves. `direct` forbids the second (a fused bias needs the first).
 */
function single(
  scope: KernelScope,
  nn: Nn,
  a: tf.TensorInfo,
  ta: boolean,
  b: tf.TensorInfo,
  tb: boolean,
  direct = false,
): tf.TensorInfo {
  if (!ta && !tb) return nn(scope, a, b);
  const [, ar = 0, ac = 0] = a.shape;
  const [, br = 0, bc = 0] = b.shape;
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const directCost = (ta ? m * k : 0) + (tb ? k * n : 0) + k * n;
  const swappedCost = (tb ? 0 : k * n) + (ta ? 0 : m * k) + k * m + m * n;
  if (direct || directCost <= swappedCost) {
    return nn(scope, ta ? scope.transposeInner(a) : a, tb ? scope.transposeInner(b) : b);
  }
  const product = nn(scope, tb ? b : scope.transposeInner(b), ta ? a : scope.transposeInner(a));
  return scope.transposeInner(product);
}

interface Geometry {
  outShape: number[];
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  a3: number[];
  b3: number[];
}

function geometry(a: tf.TensorInfo, b: tf.TensorInfo, ta: boolean, tb: boolean): Geometry | null {
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const [ar = 0, ac = 0] = a.shape.slice(-2);
  const [br = 0, bc = 0] = b.shape.slice(-2);
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  if (k !== (tb ? bc : br)) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null;
  }
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  if (m * k * n * batchA * batchB === 0) return null;
  return { outShape: [...outer, m, n], batchA, batchB, m, k, n, a3: [batchA, ar, ac], b3: [batchB, br, bc] };
}

/**
 * op(a)·op(b) through `nn` only, or null when this shape is left to the original kernel
 * (a broadcast between two batches both larger than one, or many small products).
 * With `direct`, the result's rows and columns are op(a)'s rows and op(b)'s columns as
 * computed by a single `nn` call, so a fused bias and activation can ride on it.
 */
function fastProduct(
  scope: KernelScope,
  nn: Nn,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  ta: boolean,
  tb: boolean,
  direct: boolean,
): tf.TensorInfo | null {
  const g = geometry(a, b, ta, tb);
  if (!g) return null;
  const a3 = scope.reshape(a, g.a3);
  const b3 = scope.reshape(b, g.b3);
  let out: tf.TensorInfo;
  if (g.batchA === 1 && g.batchB === 1) {
    out = single(scope, nn, a3, ta, b3, tb, direct);
  } else if (g.batchB === 1) {
    // Shared b: the batch of a becomes more rows.
    const rows = scope.reshape(ta ? scope.transposeInner(a3) : a3, [1, g.batchA * g.m, g.k]);
    out = single(scope, nn, rows, false, b3, tb, direct);
  } else if (direct) {
    return null;
  } else if (g.batchA === 1) {
    // Shared a: c[i]ᵀ = op(b[i])ᵀ·op(a)ᵀ, so the batch of b becomes rows of the swapped product.
    const rows = scope.reshape(tb ? b3 : scope.transposeInner(b3), [1, g.batchB * g.n, g.k]);
    const swapped = single(scope, nn, rows, false, a3, !ta);
    out = scope.transposeInner(scope.reshape(swapped, [g.batchB, g.n, g.m]));
  } else if (g.batchA === g.batchB && sizeOf(g.outShape.slice(0, -2)) === g.batchA) {
    if (g.m * g.k * g.n < MIN_MACS_PER_BATCH_ITEM) return null;
    const parts: tf.TensorInfo[] = [];
    for (let i = 0; i < g.batchA; i++) {
      const ai = scope.slice(a3, [i, 0, 0], [1, g.a3[1]!, g.a3[2]!]);
      const bi = scope.slice(b3, [i, 0, 0], [1, g.b3[1]!, g.b3[2]!]);
      parts.push(single(scope, nn, ai, ta, bi, tb));
    }
    // The Concat kernel takes its inputs as an array.
    out = scope.run(tf.Concat, parts as unknown as tf.NamedTensorInfoMap, { axis: 0 });
  } else {
    return null;
  }
  return scope.reshape(out, g.outShape);
}

const flag = (v: unknown) => v === true;

/** BatchMatMul for wasm: every float32 form on XNNPACK; `original` is the stock kernel. */
export function fastBatchMatMul(original: WasmKernelFunc): WasmKernelFunc {
  const nn: Nn = (scope, a, b) =>
    scope.run(tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false }, original);
  return (args: WasmKernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const ta = flag(args.attrs?.transposeA);
    const tb = flag(args.attrs?.transposeB);
    const fast = a.dtype === 'float32' && b.dtype === 'float32' && (ta || tb || geometryIsBatched(a, b));
    if (!fast) return original(args);
    return composeKernel(
      args.backend,
      args.inputs,
      (scope) =>
        fastProduct(scope, nn, a, b, ta, tb, false) ??
        scope.run(tf.BatchMatMul, args.inputs, args.attrs, original),
    );
  };
}

function geometryIsBatched(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return sizeOf(a.shape.slice(0, -2)) > 1 || sizeOf(b.shape.slice(0, -2)) > 1;
}

/** Activations applied by their own kernel on the composed path (prelu and leakyrelu take more). */
const ACTIVATION_KERNELS: Record<string, string | undefined> = {
  relu: tf.Relu,
  relu6: tf.Relu6,
  elu: tf.Elu,
  sigmoid: tf.Sigmoid,
};

/**
 * _FusedMatMul for wasm. When the product can be one untransposed, unbatched XNNPACK call
 * whose columns are op(b)'s (the bias runs along them), the stock fused kernel does it all;
 * otherwise the product comes from `matMul` (the fast BatchMatMul), then the bias (Add) and
 * the activation run as their own kernels — which also gives the correct broadcast of the
 * bias, which the stock slow path gets wrong.
 */
export function fastFusedMatMul(original: WasmKernelFunc, matMul: WasmKernelFunc): WasmKernelFunc {
  const fusedNn =
    (attrs: tf.NamedAttrMap, extra: tf.NamedTensorInfoMap): Nn =>
    (scope, a, b) =>
      scope.run(
        tf._FusedMatMul,
        { a, b, ...extra },
        { ...attrs, transposeA: false, transposeB: false },
        original,
      );
  return (args: WasmKernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as {
      a: tf.TensorInfo;
      b: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
    const attrs = args.attrs ?? {};
    const ta = flag(attrs.transposeA);
    const tb = flag(attrs.transposeB);
    const activation = String(attrs.activation ?? 'linear');
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    if (!ta && !tb && !geometryIsBatched(a, b)) return original(args);
    const n = tb ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const biasFits = bias == null || (bias.shape.length === 1 && bias.shape[0] === n);
    return composeKernel(args.backend, args.inputs, (scope) => {
      if (biasFits && activation !== 'prelu') {
        const extra: tf.NamedTensorInfoMap = bias ? { bias } : {};
        const out = fastProduct(scope, fusedNn(attrs, extra), a, b, ta, tb, true);
        if (out) return out;
      }
      let out = scope.run(tf.BatchMatMul, { a, b }, { transposeA: ta, transposeB: tb }, matMul);
      if (bias) out = scope.run(tf.Add, { a: out, b: bias });
      const kernel = ACTIVATION_KERNELS[activation];
      if (activation === 'prelu') {
        if (!preluActivationWeights) throw new Error('_FusedMatMul: prelu needs preluActivationWeights');
        out = scope.run(tf.Prelu, { x: out, alpha: preluActivationWeights });
      } else if (activation === 'leakyrelu') {
        out = scope.run(tf.LeakyRelu, { x: out }, { alpha: Number(attrs.leakyreluAlpha ?? 0.2) });
      } else if (kernel) {
        out = scope.run(kernel, { x: out });
      } else if (activation !== 'linear') {
        throw new Error(`_FusedMatMul: activation ${activation} is not supported on wasm`);
      }
      return out;
    });
  };
}

/**
 * Re-registers BatchMatMul and _FusedMatMul for wasm with the fast forms above, keeping the
 * stock kernels to call into. Idempotent. Needs the wasm backend's kernels registered
 * (importing @tensorflow/tfjs-backend-wasm).
 */
export function installWasmMatMulFastPath(): void {
  replaceWasmKernel(tf.BatchMatMul, fastBatchMatMul);
  // The fused kernel's composed path runs the product through the fast BatchMatMul.
  const matMul = wasmKernelFunc(tf.BatchMatMul);
  replaceWasmKernel(tf._FusedMatMul, (stock) => fastFusedMatMul(stock, matMul));
}

/** Puts the stock kernels back (for benchmarks that compare both in one process). */
export function uninstallWasmMatMulFastPath(): void {
  restoreWasmKernel(tf._FusedMatMul);
  restoreWasmKernel(tf.BatchMatMul);
}

export function wasmMatMulFastPathInstalled(): boolean {
  return wasmKernelReplaced(tf.BatchMatMul) && wasmKernelReplaced(tf._FusedMatMul);
}
