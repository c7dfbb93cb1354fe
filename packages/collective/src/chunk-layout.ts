/**
 * How all-reduce cuts a flat vector: chunk c holds elements [c·C, min((c+1)·C, N)) and is
 * owned by rank c mod W. A vector of length 0 still has one (empty) chunk, so every
 * all-reduce exchanges at least one frame and a length mismatch is always seen.
 */
export interface ChunkLayout {
  readonly length: number;
  readonly chunkElements: number;
  readonly world: number;
  readonly count: number;
}

export function chunkLayout(length: number, chunkElements: number, world: number): ChunkLayout {
  return { length, chunkElements, world, count: Math.max(1, Math.ceil(length / chunkElements)) };
}

export function chunkOwner(layout: ChunkLayout, chunk: number): number {
  return chunk % layout.world;
}

/** [start, end) element offsets of a chunk. */
export function chunkRange(layout: ChunkLayout, chunk: number): readonly [number, number] {
  const start = Math.min(chunk * layout.chunkElements, layout.length);
  return [start, Math.min(start + layout.chunkElements, layout.length)];
}

/** The chunks `rank` owns, in order. */
export function ownedChunks(layout: ChunkLayout, rank: number): number[] {
  const out: number[] = [];
  for (let c = rank; c < layout.count; c += layout.world) out.push(c);
  return out;
}
