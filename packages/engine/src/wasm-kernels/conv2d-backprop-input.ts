import * as tf from '@tensorflow/tfjs';
import { convGeometry } from './conv-geometry.js';
import { composeKernel, type WasmKernelArgs } from './kernel-scope.js';
import { spreadOutputGradient } from './output-gradient-spread.js';

/**
 * Conv2DBackpropInput for wasm, as one XNNPACK Conv2D. The stock kernel is a scalar C++ loop
 * (about 10x slower than the forward convolution of the same size: 36 ms of an 80 ms CNN
 * step). dx is a stride-1 correlation of dy (with stride−1 zeros between its elements, padded
 * for a full correlation) with the filter flipped in both spatial axes and its channel axes
 * swapped ([fh, fw, Cout, Cin]). NCHW inputs are transposed to NHWC and back.
 */
export function conv2DBackpropInput(args: WasmKernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const channelsLast = (attrs.dataFormat ?? 'NHWC') === 'NHWC';
  const [n = 1, d1 = 1, d2 = 1, d3 = 1] = attrs.inputShape;
  const nhwcShape = channelsLast ? [n, d1, d2, d3] : [n, d2, d3, d1];
  const g = convGeometry(nhwcShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false);
  return composeKernel(args.backend, args.inputs, (scope) => {
    const spread = spreadOutputGradient(scope, channelsLast ? dy : scope.transpose(dy, [0, 2, 3, 1]), g);
    const flipped = scope.transpose(scope.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
    const dx = scope.run(
      tf.Conv2D,
      { x: spread.dy, filter: flipped },
      { strides: [1, 1], dilations: [1, 1], pad: spread.pad, dataFormat: 'NHWC' },
    );
    return channelsLast ? dx : scope.transpose(dx, [0, 3, 1, 2]);
  });
}
