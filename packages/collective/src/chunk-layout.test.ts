import { describe, expect, it } from 'vitest';
import { chunkLayout, chunkOwner, chunkRange, ownedChunks } from './chunk-layout.js';
import { decodeFrameHeader, encodeFrameHeader, FrameKind } from './contribution-frame.js';
import { float32Bytes, float32View } from './float32-bytes.js';
import { meanInRankOrder } from './mean-reduce.js';

describe('chunk layout', () => {
  it('cuts a vector into chunks owned round-robin, the last one short', () => {
    const layout = chunkLayout(10, 4, 3);
    expect(layout.count).toBe(3);
    expect([0, 1, 2].map((c) => chunkRange(layout, c))).toEqual([
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    expect([0, 1, 2, 3].map((c) => chunkOwner(layout, c))).toEqual([0, 1, 2, 0]);
    expect(ownedChunks(chunkLayout(100, 10, 3), 1)).toEqual([1, 4, 7]);
  });

  it('has one empty chunk for an empty vector, and chunks shorter than the world leave ranks idle', () => {
    expect(chunkLayout(0, 4, 2).count).toBe(1);
    expect(chunkRange(chunkLayout(0, 4, 2), 0)).toEqual([0, 0]);
    expect(ownedChunks(chunkLayout(1, 4, 4), 3)).toEqual([]);
  });
});

describe('mean in rank order', () => {
  /** The definition: float64 sum in rank order, divided by W, rounded once. */
  const reference = (parts: Float32Array[], i: number) => {
    let sum = 0;
    for (const p of parts) sum += p[i] as number;
    return Math.fround(sum / parts.length);
  };

  for (const world of [1, 2, 3, 4, 5, 7]) {
    it(`matches the float64 rank-order definition bit for bit, W=${world}`, () => {
      const parts = Array.from({ length: world }, (_, r) =>
        Float32Array.from(
          { length: 257 },
          (_, i) => Math.sin(i * 7.1 + r) * 10 ** ((i % 9) - 4) + (r === 1 ? 1e8 : 0),
        ),
      );
      const out = meanInRankOrder(parts, new Float32Array(257));
      for (let i = 0; i < 257; i++) expect(out[i]).toBe(reference(parts, i));
    });
  }

  it('refuses parts of the wrong length', () => {
    expect(() => meanInRankOrder([new Float32Array(2), new Float32Array(3)], new Float32Array(2))).toThrow(
      /rank 1 contributed 3/,
    );
  });
});

describe('frames and bytes', () => {
  it('round-trips a header and rejects what is not one', () => {
    const h = { kind: FrameKind.DATA, rank: 3, length: 1_000_003, chunkElements: 262_144 };
    expect(decodeFrameHeader(encodeFrameHeader(h))).toEqual(h);
    expect(decodeFrameHeader(Buffer.alloc(15))).toBeNull();
    expect(decodeFrameHeader(Buffer.alloc(16))).toBeNull();
  });

  it('views float32 bytes without copying, and copies unaligned ones', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const bytes = float32Bytes(data, 1, 3);
    expect(bytes.buffer).toBe(data.buffer);
    expect(Array.from(float32View(bytes))).toEqual([2, 3]);
    const unaligned = Buffer.concat([Buffer.alloc(1), bytes]).subarray(1);
    expect(Array.from(float32View(unaligned))).toEqual([2, 3]);
    expect(() => float32View(Buffer.alloc(3))).toThrow(RangeError);
  });
});
