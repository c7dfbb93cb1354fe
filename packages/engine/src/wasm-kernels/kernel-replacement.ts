import * as tf from '@tensorflow/tfjs';
import type { WasmKernelFunc } from './kernel-scope.js';

/**
 * Replacing a stock wasm kernel with one that may call the stock one: the stock config is kept
 * (its setupFunc binds the C++ entry point and runs again if the backend is re-created), the
 * replacement is registered under the same name, and `restore` puts the stock one back.
 */

const replaced = new Map<string, tf.KernelConfig>();

/** Replaces `kernelName` on wasm with `make(stock)`. A second call while replaced does nothing. */
export function replaceWasmKernel(kernelName: string, make: (stock: WasmKernelFunc) => WasmKernelFunc): void {
  if (replaced.has(kernelName)) return;
  const stock = tf.getKernel(kernelName, 'wasm');
  if (!stock) throw new Error(`wasm backend has no ${kernelName} kernel to replace`);
  const kernelFunc = make(stock.kernelFunc as unknown as WasmKernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...stock, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  replaced.set(kernelName, stock);
}

/** Puts the stock kernel back (no-op when it is not replaced). */
export function restoreWasmKernel(kernelName: string): void {
  const stock = replaced.get(kernelName);
  if (!stock) return;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(stock);
  replaced.delete(kernelName);
}

export function wasmKernelReplaced(kernelName: string): boolean {
  return replaced.has(kernelName);
}
