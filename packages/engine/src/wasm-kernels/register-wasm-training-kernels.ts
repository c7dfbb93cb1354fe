import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2DBackpropInput } from './conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilter } from './depthwise-conv2d-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInput } from './depthwise-conv2d-backprop-input.js';
import { replaceWasmKernel } from './kernel-replacement.js';
import type { WasmKernelFunc } from './kernel-scope.js';
import { installWasmMatMulFastPath } from './mat-mul-fast-path.js';
import { maxPoolGrad } from './max-pool-grad.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';

/**
 * Training kernels tfjs-backend-wasm 4.22 lacks (the cpu backend has them), each composed
 * from the wasm backend's own fast kernels. The other kernels cpu has and wasm lacks (complex
 * numbers and FFT, Einsum, ragged and string ops, Draw) are not on any gradient path of the
 * layers we train.
 */
export const WASM_TRAINING_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: WasmKernelFunc }> = [
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseConv2dNativeBackpropFilter },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseConv2dNativeBackpropInput },
  { kernelName: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSum },
];

/**
 * Stock wasm kernels replaced: MaxPoolGrad computes wrong gradients (windows whose maximum is
 * ≤ 0 lose theirs), Conv2DBackpropInput is a scalar loop ~10x slower than XNNPACK's Conv2D.
 */
export const WASM_REPLACED_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: WasmKernelFunc }> = [
  { kernelName: tf.MaxPoolGrad, kernelFunc: maxPoolGrad },
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInput },
];

/**
 * Makes the wasm backend trainable and fast to train on: registers the kernels above where
 * wasm has none, replaces the stock MaxPoolGrad (wrong) and Conv2DBackpropInput (slow), and
 * puts every matrix product on XNNPACK (`installWasmMatMulFastPath`).
 * Idempotent; needs `@tensorflow/tfjs-backend-wasm` imported. Returns the kernel names it
 * registered now (missing ones only).
 */
export function registerWasmTrainingKernels(): string[] {
  if (!tf.getKernel(tf.Conv2D, 'wasm')) {
    throw new Error('the wasm backend is not loaded (import @tensorflow/tfjs-backend-wasm first)');
  }
  const registered: string[] = [];
  for (const { kernelName, kernelFunc } of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
    registered.push(kernelName);
  }
  for (const { kernelName, kernelFunc } of WASM_REPLACED_KERNELS)
    replaceWasmKernel(kernelName, () => kernelFunc);
  installWasmMatMulFastPath();
  return registered;
}
