import * as tf from '@tensorflow/tfjs';
import { composeKernel, sizeOf, type WasmKernelArgs } from './kernel-scope.js';

/**
 * UnsortedSegmentSum for wasm (the gradient of gather, hence of every embedding), as one
 * ScatterNd, which adds the rows whose indices repeat: out[segmentIds[i]] += x[i]. Ids outside
 * [0, numSegments) are dropped, as the cpu backend does: they are sent to one extra row that
 * is cut off (the ids are read once in JS to find out; no loop touches x).
 */
export function unsortedSegmentSum(args: WasmKernelArgs): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = Number((args.attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments);
  const rows = sizeOf(segmentIds.shape);
  const inner = x.shape.slice(segmentIds.shape.length);
  const outShape = [numSegments, ...inner];
  const width = sizeOf(inner);
  return composeKernel(args.backend, args.inputs, (scope) => {
    if (rows === 0 || width === 0 || numSegments === 0) return scope.zeros(outShape, x.dtype);
    // Copy: a view of the wasm heap is detached when the heap grows.
    const ids = Int32Array.from(args.backend.readSync(segmentIds.dataId) as Int32Array);
    let indices: tf.TensorInfo;
    let segments = numSegments;
    if (ids.every((id) => id >= 0 && id < numSegments)) {
      indices = scope.reshape(segmentIds, [rows, 1]);
    } else {
      segments = numSegments + 1;
      indices = scope.tensor(
        ids.map((id) => (id >= 0 && id < numSegments ? id : numSegments)),
        [rows, 1],
        'int32',
      );
    }
    const updates = scope.reshape(x, [rows, width]);
    let out = scope.run(tf.ScatterNd, { indices, updates }, { shape: [segments, width] });
    out = scope.slice(out, [0, 0], [numSegments, width]);
    return scope.reshape(out, outShape);
  });
}
