/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) whose whole state is four
 * uint32 numbers, so it can be checkpointed and restored exactly. The same seed gives
 * the same sequence on every machine and backend.
 */
export type RandomState = readonly [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | RandomState, stream = 0) {
    if (typeof seed === 'number') {
      const sm = splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
      this.a = sm();
      this.b = sm();
      this.c = sm();
      this.d = sm();
      for (let i = 0; i < 12; i++) this.nextUint32();
    } else {
      [this.a, this.b, this.c, this.d] = seed;
    }
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  state(): RandomState {
    return [this.a, this.b, this.c, this.d];
  }
}

/** Fisher-Yates permutation of 0..n-1. */
export function seededPermutation(n: number, seed: number, stream = 0): Uint32Array {
  const rng = new SeededRandom(seed, stream);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
  }
  return perm;
}
