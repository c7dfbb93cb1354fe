import * as tf from '@tensorflow/tfjs';
import { convGeometry, cropAndPad, filterGradPadding } from './conv-geometry.js';
import { composeKernel, type WasmKernelArgs } from './kernel-scope.js';

/**
 * DepthwiseConv2dNativeBackpropFilter for wasm, as one XNNPACK depthwise convolution:
 * dW[kh,kw,c,m] = Σ_{n,oh,ow} x[n, kh·d + oh·s − pt, kw·d + ow·s − pl, c] · dy[n,oh,ow,c·M+m].
 * With every (n, c) pair as a channel of one image — x as [1, H, W, N·C] and dy as the
 * depthwise filter [Ho, Wo, N·C, M] (channel multiplier M), dilated by the forward stride and
 * strided by the forward dilation — the output [1, fh, fw, N·C·M] summed over n is dW.
 */
export function depthwiseConv2dNativeBackpropFilter(args: WasmKernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const g = convGeometry(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const [fh, fw, channels, multiplier] = attrs.filterShape;
  return composeKernel(args.backend, args.inputs, (scope) => {
    const rows = cropAndPad(g.rows.size, filterGradPadding(g.rows));
    const cols = cropAndPad(g.cols.size, filterGradPadding(g.cols));
    const cropped = scope.slice(x, [0, rows.begin, cols.begin, 0], [g.batch, rows.size, cols.size, channels]);
    const image = scope.reshape(scope.transpose(cropped, [1, 2, 0, 3]), [
      1,
      rows.size,
      cols.size,
      g.batch * channels,
    ]);
    const filter = scope.reshape(scope.transpose(dy, [1, 2, 0, 3]), [
      g.rows.out,
      g.cols.out,
      g.batch * channels,
      multiplier,
    ]);
    const perImage = scope.run(
      tf.DepthwiseConv2dNative,
      { x: image, filter },
      {
        strides: [g.rows.dilation, g.cols.dilation],
        dilations: [g.rows.stride, g.cols.stride],
        pad: [
          [0, 0],
          [rows.before, rows.after],
          [cols.before, cols.after],
          [0, 0],
        ],
      },
    );
    const summed = scope.sum(scope.reshape(perImage, [fh * fw, g.batch, channels * multiplier]), [1]);
    return scope.reshape(summed, [fh, fw, channels, multiplier]);
  });
}
