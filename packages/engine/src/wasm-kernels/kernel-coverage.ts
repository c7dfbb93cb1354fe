import * as tf from '@tensorflow/tfjs';

/**
 * The kernels registered for `reference` (by default the cpu backend, which has them all) that
 * `backend` has none of, sorted. An op whose kernel is missing throws when it runs there.
 */
export function kernelsMissingOn(backend: string, reference = 'cpu'): string[] {
  return tf
    .getKernelsForBackend(reference)
    .map((k) => k.kernelName)
    .filter((name) => !tf.getKernel(name, backend))
    .sort();
}
