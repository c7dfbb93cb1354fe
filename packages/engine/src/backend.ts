import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, Errors, TrainyardError } from '@trainyard/core';
import { visibleGpus } from './gpu-detect.js';
import { registerWasmTrainingKernels } from './wasm-kernels/register-wasm-training-kernels.js';

/**
 * Choosing the TensorFlow.js backend. `auto` tries, in order, the native TensorFlow
 * bindings (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`: optional packages,
 * loaded only when installed), then wasm, then the pure-JS cpu backend. Choosing wasm also
 * registers the training kernels it lacks and its fast matrix products
 * (`registerWasmTrainingKernels`).
 */
export const BACKEND_PREFERENCES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

async function useNative(): Promise<BackendInfo | null> {
  // The GPU package only when a GPU is visible to this process (one per worker process:
  // CUDA_VISIBLE_DEVICES names it); without one it would fall back to TensorFlow's CPU kernels
  // while reporting a GPU.
  const gpus = visibleGpus();
  const candidates =
    gpus.length > 0 ? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] : ['@tensorflow/tfjs-node'];
  for (const pkg of candidates) {
    if ((await tryImport(pkg)) && (await tf.setBackend('tensorflow'))) {
      await tf.ready();
      const gpu = pkg.endsWith('-gpu') ? (gpus[0]?.name ?? 'cuda') : null;
      return { name: 'tensorflow', version: tf.version.tfjs, gpu };
    }
  }
  return null;
}

async function useWasm(): Promise<BackendInfo | null> {
  if (!(await tryImport('@tensorflow/tfjs-backend-wasm'))) return null;
  try {
    if (!(await tf.setBackend('wasm'))) return null;
    await tf.ready();
  } catch {
    return null;
  }
  // Outside the try: a failure here is a bug to see, not a reason to fall back to cpu.
  registerWasmTrainingKernels();
  return { name: 'wasm', version: tf.version.tfjs, gpu: null };
}

async function useCpu(): Promise<BackendInfo> {
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'cpu', version: tf.version.tfjs, gpu: null };
}

let current: BackendInfo | null = null;

/** Selects and initialises a backend once per process; later calls return the same choice. */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  if (current) return current;
  let chosen: BackendInfo | null = null;
  switch (preference) {
    case 'tensorflow':
      chosen = await useNative();
      break;
    case 'wasm':
      chosen = await useWasm();
      break;
    case 'cpu':
      chosen = await useCpu();
      break;
    case 'auto':
      chosen = (await useNative()) ?? (await useWasm()) ?? (await useCpu());
      break;
  }
  if (!chosen) {
    throw new TrainyardError(
      Errors.BACKEND_UNAVAILABLE,
      `TensorFlow.js backend '${preference}' cannot be loaded on this machine` +
        (preference === 'tensorflow' ? ' (install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)' : ''),
    );
  }
  current = chosen;
  return chosen;
}

export function currentBackend(): BackendInfo | null {
  return current;
}
