import * as tf from '@tensorflow/tfjs';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** One spatial axis of a forward 2-D convolution, as the backward kernels need it. */
export interface ConvAxis {
  /** Input size. */
  readonly size: number;
  readonly filter: number;
  readonly stride: number;
  readonly dilation: number;
  /** Zeros before the input (from tfjs' own padding rules). */
  readonly padBefore: number;
  /** Output size. */
  readonly out: number;
}

export interface ConvGeometry {
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly rows: ConvAxis;
  readonly cols: ConvAxis;
}

/**
 * The geometry of a forward conv2d / depthwise conv2d in NHWC terms, from the same
 * `computeConv2DInfo` every backend uses, so 'same', 'valid', numbers with a rounding mode
 * and explicit paddings all mean what they mean elsewhere.
 */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dimRoundingMode: Rounding,
  depthwise: boolean,
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  return {
    batch: info.batchSize,
    inChannels: info.inChannels,
    outChannels: info.outChannels,
    rows: {
      size: info.inHeight,
      filter: info.filterHeight,
      stride: info.strideHeight,
      dilation: info.dilationHeight,
      padBefore: info.padInfo.top,
      out: info.outHeight,
    },
    cols: {
      size: info.inWidth,
      filter: info.filterWidth,
      stride: info.strideWidth,
      dilation: info.dilationWidth,
      padBefore: info.padInfo.left,
      out: info.outWidth,
    },
  };
}

/**
 * For the filter gradient: dW[k] = Σ_o x[k·dilation + o·stride − padBefore] · dy[o]. Read as a
 * correlation of x (padded by `before`, `after`) with dy dilated by the forward stride, taken
 * with the forward dilation as its stride, it yields exactly `filter` outputs when the padded
 * input spans (filter−1)·dilation + (out−1)·stride + 1. A negative `after` is a crop of x's
 * end (rows no output reads). `before` is never negative.
 */
export function filterGradPadding(axis: ConvAxis): { before: number; after: number } {
  const span = (axis.filter - 1) * axis.dilation + (axis.out - 1) * axis.stride + 1;
  return { before: axis.padBefore, after: span - axis.padBefore - axis.size };
}

/**
 * For the input gradient: dx[i] = Σ_k dy'[i + padBefore − k·dilation] · W[k] with dy' being dy
 * with stride−1 zeros between its elements (length (out−1)·stride + 1). With the filter
 * flipped this is a correlation of dy' padded by `before` = (filter−1)·dilation − padBefore and
 * `after` = size − len(dy') + padBefore. Negative values are crops of dy'.
 */
export function inputGradPadding(axis: ConvAxis): { before: number; after: number } {
  const dilatedOut = (axis.out - 1) * axis.stride + 1;
  return {
    before: (axis.filter - 1) * axis.dilation - axis.padBefore,
    after: axis.size - dilatedOut + axis.padBefore,
  };
}

/** Splits signed paddings into a crop (begin, size) of an axis of length `length` and the zero padding left. */
export function cropAndPad(
  length: number,
  pad: { before: number; after: number },
): { begin: number; size: number; before: number; after: number } {
  const begin = Math.max(0, -pad.before);
  const end = length - Math.max(0, -pad.after);
  return {
    begin,
    size: Math.max(0, end - begin),
    before: Math.max(0, pad.before),
    after: Math.max(0, pad.after),
  };
}
