import * as tf from '@tensorflow/tfjs';
import { convGeometry } from './conv-geometry.js';
import { composeKernel, type WasmKernelArgs } from './kernel-scope.js';
import { spreadOutputGradient } from './output-gradient-spread.js';

/**
 * DepthwiseConv2dNativeBackpropInput for wasm, as one XNNPACK depthwise convolution:
 * dx[n,h,w,c] = Σ_{kh,kw,m} dy[n, oh, ow, c·M+m] · W[kh,kw,c,m] over h = oh·s + kh·d − pt.
 * dy with stride−1 zeros between its rows and columns (a PadV2 of a reshaped dy), padded for a
 * full correlation, convolved depthwise (multiplier 1, forward dilation) with the filter
 * flipped in both spatial axes as [fh, fw, C·M, 1], gives [N, H, W, C·M]; summing the M
 * multiplier channels of each input channel gives dx.
 */
export function depthwiseConv2dNativeBackpropInput(args: WasmKernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const g = convGeometry(
    attrs.inputShape,
    filter.shape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const [fh = 1, fw = 1, channels = 1, multiplier = 1] = filter.shape;
  const outChannels = channels * multiplier;
  return composeKernel(args.backend, args.inputs, (scope) => {
    const spread = spreadOutputGradient(scope, dy, g);
    const flipped = scope.reshape(scope.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [
      fh,
      fw,
      outChannels,
      1,
    ]);
    const perChannel = scope.run(
      tf.DepthwiseConv2dNative,
      { x: spread.dy, filter: flipped },
      { strides: [1, 1], dilations: [g.rows.dilation, g.cols.dilation], pad: spread.pad },
    );
    if (multiplier === 1) return perChannel;
    const grouped = scope.reshape(perChannel, [g.batch, g.rows.size, g.cols.size, channels, multiplier]);
    return scope.sum(grouped, [4]);
  });
}
