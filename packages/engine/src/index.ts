/**
 * @trainyard/engine — the TensorFlow.js runtime a worker trains on: which backend
 * (native TensorFlow, wasm, cpu) this machine allows, and the kernels that make wasm
 * trainable (conv / depthwise / segment-sum gradients it lacks, a correct MaxPoolGrad) and
 * fast to train on (every matrix product and conv input gradient on XNNPACK). Knows nothing
 * of jobs.
 *
 *   const backend = await initBackend(config.TRAINYARD_BACKEND); // { name: 'wasm', version: '4.22.0', gpu: null }
 */

export { BACKEND_PREFERENCES, type BackendPreference, currentBackend, initBackend } from './backend.js';
export { parseVisibleGpus, type VisibleGpu, visibleGpus } from './gpu-detect.js';
export { kernelsMissingOn } from './wasm-kernels/kernel-coverage.js';
export {
  installWasmMatMulFastPath,
  uninstallWasmMatMulFastPath,
  wasmMatMulFastPathInstalled,
} from './wasm-kernels/mat-mul-fast-path.js';
export {
  registerWasmTrainingKernels,
  WASM_REPLACED_KERNELS,
  WASM_TRAINING_KERNELS,
} from './wasm-kernels/register-wasm-training-kernels.js';
