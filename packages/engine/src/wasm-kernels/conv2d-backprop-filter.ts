import * as tf from '@tensorflow/tfjs';
import { convGeometry, cropAndPad, filterGradPadding } from './conv-geometry.js';
import { composeKernel, type WasmKernelArgs } from './kernel-scope.js';

/**
 * Conv2DBackpropFilter for wasm, as one XNNPACK Conv2D: the filter gradient
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, kh + oh·s − pt, kw + ow·s − pl, ci] · dy[n,oh,ow,co]
 * is a convolution of x with the batch as its channels ([Cin, H, W, N]) by dy as the filter
 * ([Ho, Wo, N, Cout]) dilated by the forward stride; its [Cin, fh, fw, Cout] output, transposed,
 * is dW. Padding is the forward one before, and whatever makes exactly fh × fw outputs after
 * (a crop when negative).
 */
export function conv2DBackpropFilter(args: WasmKernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  const g = convGeometry(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  const channelsLast = dataFormat === 'NHWC';
  return composeKernel(args.backend, args.inputs, (scope) => {
    // x as [Cin, H, W, N], dy as [Ho, Wo, N, Cout].
    let input = scope.transpose(x, channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0]);
    const filter = scope.transpose(dy, channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1]);
    const rows = cropAndPad(g.rows.size, filterGradPadding(g.rows));
    const cols = cropAndPad(g.cols.size, filterGradPadding(g.cols));
    input = scope.slice(input, [0, rows.begin, cols.begin, 0], [g.inChannels, rows.size, cols.size, g.batch]);
    const grad = scope.run(
      tf.Conv2D,
      { x: input, filter },
      {
        strides: [g.rows.dilation, g.cols.dilation],
        dilations: [g.rows.stride, g.cols.stride],
        pad: [
          [0, 0],
          [rows.before, rows.after],
          [cols.before, cols.after],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
    return scope.transpose(grad, [1, 2, 0, 3]);
  });
}
