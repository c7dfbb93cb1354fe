import * as tf from '@tensorflow/tfjs';
import { cropAndPad } from './conv-geometry.js';
import { composeKernel, type WasmKernelArgs } from './kernel-scope.js';

/**
 * MaxPoolGrad for wasm. The stock kernel (tfjs-backend-wasm 4.22, MaxPoolGrad.cc) starts each
 * window's running maximum at std::numeric_limits<float>::min() — the smallest *positive*
 * float — so a window whose maximum is zero or negative never records its argmax and its
 * gradient is lost (or lands on element 0). Any max pooling after a layer that can go
 * negative (no activation, batch norm, tanh) then trains on wrong gradients.
 *
 * This one routes each window's gradient to the first position holding the window's maximum,
 * as the cpu backend (and TensorFlow) does, with the backend's own kernels: the input, padded
 * with −∞ and transposed into its stride phases, gives each window tap as a plain slice; the
 * tap equal to the pooled output takes the gradient not yet claimed by an earlier tap (Sub,
 * Step, Multiply: exact, and ~3x faster here than Equal and Select); one ScatterNd adds every
 * tap's share back into place (overlapping windows sum). A gradient of ±∞ turns into NaN.
 * The scatter's index tensor, over windows × taps (not channels), is built in JS once per
 * geometry. (The stock StridedSlice is a per-element C++ loop, 40 ms for one tap of a
 * 64×28×28×16 input; the phase split is two transposes, 5 ms.)
 */
export function maxPoolGrad(args: WasmKernelArgs): tf.TensorInfo {
  const { dy, input, output } = args.inputs as {
    dy: tf.TensorInfo;
    input: tf.TensorInfo;
    output: tf.TensorInfo;
  };
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  // Window taps by phase: tap (i, j) of every window is a slice of the input padded (−∞) to
  // hq·sh × wq·sw and split into its sw × sh phases, [sw·sh·n, hq, wq, c].
  const hq = ho + Math.floor((fh - 1) / sh);
  const wq = wo + Math.floor((fw - 1) / sw);
  const hp = hq * sh;
  const wp = wq * sw;
  const rows = cropAndPad(h, { before: info.padInfo.top, after: hp - info.padInfo.top - h });
  const cols = cropAndPad(w, { before: info.padInfo.left, after: wp - info.padInfo.left - w });
  return composeKernel(args.backend, args.inputs, (scope) => {
    const used = scope.slice(input, [0, rows.begin, cols.begin, 0], [n, rows.size, cols.size, c]);
    const padded = scope.pad(
      used,
      [
        [0, 0],
        [rows.before, rows.after],
        [cols.before, cols.after],
        [0, 0],
      ],
      Number.NEGATIVE_INFINITY,
    );
    // [n·hq, sh, wq, sw·c] → [sh, n·hq, wq, sw·c] → [sh·n·hq·wq, sw, c] → [sw, sh·n·hq·wq, c]:
    // two transposes of rank ≤ 4 (the backend's rank-6 transpose is a slow generic loop).
    const rowPhases = scope.transpose(scope.reshape(padded, [n * hq, sh, wq, sw * c]), [1, 0, 2, 3]);
    const bothPhases = scope.transpose(scope.reshape(rowPhases, [sh * n * hq * wq, sw, c]), [1, 0, 2]);
    // Rows of wq·c values: a tap's slice copies ho rows of wo·c values per image.
    const phases = scope.reshape(bothPhases, [sw * sh * n, hq, wq * c]);
    // Per tap, in window order: below = 1 where the tap is below the window's maximum (Step of
    // y − tap; −∞ padding included), 0 where it holds it. The tap keeps the gradient not yet
    // claimed where it holds the maximum, so the first maximum of each window gets it all.
    // All float arithmetic on XNNPACK, exact: products by 0 or 1 and x − x or x − 0.
    const pooled = scope.reshape(output, [n, ho, wo * c]);
    let unclaimed = scope.reshape(dy, [n, ho, wo * c]);
    const shares: tf.TensorInfo[] = [];
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        const phase = (j % sw) * sh + (i % sh);
        const tap = scope.slice(
          phases,
          [phase * n, Math.floor(i / sh), Math.floor(j / sw) * c],
          [n, ho, wo * c],
        );
        const below = scope.run(tf.Step, { x: scope.run(tf.Sub, { a: pooled, b: tap }) }, { alpha: 0 });
        const kept = scope.run(tf.Multiply, { a: below, b: unclaimed });
        shares.push(scope.reshape(scope.run(tf.Sub, { a: unclaimed, b: kept }), [-1, c]));
        unclaimed = kept;
      }
    }
    const updates =
      shares.length === 1
        ? shares[0]!
        : scope.run(tf.Concat, shares as unknown as tf.NamedTensorInfoMap, { axis: 0 });
    const positions = windowPositions(n, ho, wo, fh, fw, sh, sw, hp, wp);
    const indices = scope.tensor(positions, [positions.length, 1], 'int32');
    const summed = scope.run(tf.ScatterNd, { indices, updates }, { shape: [n * hp * wp, c] });
    const grid = scope.reshape(summed, [n, hp, wp, c]);
    const inner = scope.slice(grid, [0, rows.before, cols.before, 0], [n, rows.size, cols.size, c]);
    // Input rows and columns no window reads get zeros.
    return scope.pad(inner, [
      [0, 0],
      [rows.begin, h - rows.begin - rows.size],
      [cols.begin, w - cols.begin - cols.size],
      [0, 0],
    ]);
  });
}

const positionCache = new Map<string, Int32Array>();
const POSITION_CACHE_ENTRIES = 16;

/**
 * For tap (i, j) of window (b, oh, ow), in the order the shares are concatenated (tap-major),
 * the flat position b·hp·wp + (oh·sh + i)·wp + (ow·sw + j) in the padded grid.
 */
function windowPositions(
  n: number,
  ho: number,
  wo: number,
  fh: number,
  fw: number,
  sh: number,
  sw: number,
  hp: number,
  wp: number,
): Int32Array {
  const key = [n, ho, wo, fh, fw, sh, sw, hp, wp].join(',');
  const cached = positionCache.get(key);
  if (cached) return cached;
  const out = new Int32Array(fh * fw * n * ho * wo);
  let k = 0;
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      for (let b = 0; b < n; b++) {
        for (let oh = 0; oh < ho; oh++) {
          const row = b * hp * wp + (oh * sh + i) * wp + j;
          for (let ow = 0; ow < wo; ow++) out[k++] = row + ow * sw;
        }
      }
    }
  }
  if (positionCache.size >= POSITION_CACHE_ENTRIES) {
    positionCache.delete(positionCache.keys().next().value as string);
  }
  positionCache.set(key, out);
  return out;
}
