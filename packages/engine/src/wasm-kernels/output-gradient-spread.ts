import type * as tf from '@tensorflow/tfjs';
import { type ConvGeometry, cropAndPad, inputGradPadding } from './conv-geometry.js';
import type { KernelScope } from './kernel-scope.js';

/** dy laid out for the input gradient as a stride-1 correlation, and the explicit padding that goes with it. */
export interface SpreadGradient {
  readonly dy: tf.TensorInfo;
  /** Explicit NHWC padding for the correlation (never negative). */
  readonly pad: [[number, number], [number, number], [number, number], [number, number]];
}

/**
 * The input gradient of a strided convolution is a stride-1 correlation of dy with stride−1
 * zeros between its rows and columns, padded for a full correlation (inputGradPadding). The
 * zeros come from one PadV2 of dy viewed as [N, Ho, 1, Wo, 1, C] (to [N, Ho, s, Wo, s, C]);
 * its s−1 trailing zero rows count as padding; negative paddings crop.
 */
export function spreadOutputGradient(scope: KernelScope, dy: tf.TensorInfo, g: ConvGeometry): SpreadGradient {
  const channels = dy.shape[3] ?? 1;
  const sh = g.rows.stride;
  const sw = g.cols.stride;
  let spread = dy;
  if (sh > 1 || sw > 1) {
    const six = scope.reshape(dy, [g.batch, g.rows.out, 1, g.cols.out, 1, channels]);
    const padded = scope.pad(six, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    spread = scope.reshape(padded, [g.batch, g.rows.out * sh, g.cols.out * sw, channels]);
  }
  const rowsPad = inputGradPadding(g.rows);
  const colsPad = inputGradPadding(g.cols);
  const rows = cropAndPad(g.rows.out * sh, { before: rowsPad.before, after: rowsPad.after - (sh - 1) });
  const cols = cropAndPad(g.cols.out * sw, { before: colsPad.before, after: colsPad.after - (sw - 1) });
  return {
    dy: scope.slice(spread, [0, rows.begin, cols.begin, 0], [g.batch, rows.size, cols.size, channels]),
    pad: [
      [0, 0],
      [rows.before, rows.after],
      [cols.before, cols.after],
      [0, 0],
    ],
  };
}
