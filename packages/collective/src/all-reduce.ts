import { type ChunkLayout, chunkLayout, chunkOwner, chunkRange, ownedChunks } from './chunk-layout.js';
import { mismatchError } from './collective-errors.js';
import { READER_DONE } from './collective-scripts.js';
import { decodeFrameHeader, encodeFrameHeader, FrameKind } from './contribution-frame.js';
import { float32Bytes } from './float32-bytes.js';
import { meanInRankOrder } from './mean-reduce.js';
import { missingRanks, type OpContext } from './op-context.js';
import { PendingWrites } from './pending-writes.js';
import { appendWithTtl, popUpTo, pushWithTtl, readEntries } from './redis-io.js';

/**
 * All-reduce (mean) over Redis: reduce-scatter, then all-gather, chunk by chunk.
 *
 * 1. Each rank pushes, without waiting, its slice of every chunk it does not own onto that
 *    chunk's input list (header + raw float32 bytes, with a TTL).
 * 2. For each chunk it owns, it pops the W-1 contributions (BLMPOP), sums all W in rank order
 *    in float64, divides by W, rounds to float32 and appends the result to the chunk's output
 *    stream (with a TTL).
 * 3. It reads (XREAD BLOCK) the output of every chunk owned by another rank; the last of the
 *    W-1 readers deletes the output (READER_DONE). Input lists empty themselves as they are popped.
 *
 * Every rank ends with the owners' bytes, so every rank holds the same bytes. A rank that finds
 * the ranks disagree (length, chunk size, a rank twice) fails with COLLECTIVE_MISMATCH and
 * posts an error into every input and output of the operation, so no other rank waits for
 * its deadline.
 */

/** Output stream fields: the reduced chunk, or an error reason. */
const MEAN_FIELD = 'm';
const ERROR_FIELD = 'e';
const RANK_FIELD = 'r';
/** The largest vector a frame header can describe. */
export const MAX_ALLREDUCE_ELEMENTS = 0xffff_ffff;

export interface AllReduceOutcome {
  readonly result: Float32Array;
  /** Bytes of payload this rank sent to Redis and received from it. */
  readonly bytes: number;
}

/**
 * A COLLECTIVE_MISMATCH, found here or reported by another rank: `reason` is what to post
 * to the other ranks, `chunkCount` how many chunks to post it to (the larger layout seen).
 */
class Disagreement extends Error {
  constructor(
    readonly error: Error,
    readonly reason: string,
    readonly chunkCount: number,
  ) {
    super(error.message);
  }
}

export async function allReduceMean(ctx: OpContext, data: Float32Array): Promise<AllReduceOutcome> {
  if (ctx.world === 1) return { result: data.slice(), bytes: 0 };
  if (data.length > MAX_ALLREDUCE_ELEMENTS) {
    throw new RangeError(`allReduceMean takes at most ${MAX_ALLREDUCE_ELEMENTS} values, got ${data.length}`);
  }
  const layout = chunkLayout(data.length, ctx.chunkElements, ctx.world);
  const writes = new PendingWrites();
  const result = new Float32Array(data.length);
  let bytes = 0;

  const header = encodeFrameHeader({
    kind: FrameKind.DATA,
    rank: ctx.rank,
    length: layout.length,
    chunkElements: layout.chunkElements,
  });
  for (let c = 0; c < layout.count; c++) {
    if (chunkOwner(layout, c) === ctx.rank) continue;
    const [start, end] = chunkRange(layout, c);
    const payload = float32Bytes(data, start, end);
    writes.add(pushWithTtl(ctx.cmd, ctx.keys.chunkInput(ctx.seq, c), ctx.ttlMs, [header, payload]));
    bytes += payload.length;
  }

  try {
    const scratch = peerScratch(ctx, layout);
    for (const c of ownedChunks(layout, ctx.rank)) {
      const [start, end] = chunkRange(layout, c);
      const own = data.subarray(start, end);
      const mean = meanInRankOrder(
        await collectContributions(ctx, layout, c, own, scratch),
        result.subarray(start, end),
      );
      writes.add(
        appendWithTtl(ctx.cmd, ctx.keys.chunkOutput(ctx.seq, c), ctx.ttlMs, [MEAN_FIELD, float32Bytes(mean)]),
      );
      bytes += mean.byteLength;
    }
    const resultBytes = new Uint8Array(result.buffer, result.byteOffset, result.byteLength);
    for (let c = 0; c < layout.count; c++) {
      const owner = chunkOwner(layout, c);
      if (owner === ctx.rank) continue;
      const [start, end] = chunkRange(layout, c);
      const mean = await readChunkMean(ctx, c, owner);
      if (mean.length !== (end - start) * 4) {
        throw found(
          ctx,
          `chunk ${c} from rank ${owner} has ${mean.length / 4} values, expected ${end - start}`,
          0,
        );
      }
      resultBytes.set(mean, start * 4);
      bytes += mean.length;
      writes.add(
        READER_DONE.run(
          ctx.cmd,
          [ctx.keys.chunkDone(ctx.seq, c), ctx.keys.chunkOutput(ctx.seq, c)],
          [ctx.world - 1, ctx.ttlMs],
        ),
      );
    }
    await ctx.waits.acknowledged(ctx.label, 'Redis to acknowledge the writes', writes.settle());
  } catch (err) {
    if (err instanceof Disagreement) {
      const posted = postError(ctx, Math.max(layout.count, err.chunkCount), err.reason);
      await ctx.waits.acknowledged(ctx.label, 'Redis to acknowledge the error', posted).catch(() => {});
      throw err.error;
    }
    throw err;
  }
  return { result, bytes };
}

function found(ctx: OpContext, detail: string, chunkCount: number): Disagreement {
  const error = mismatchError(ctx.label, detail);
  return new Disagreement(error, error.message, chunkCount);
}

function relayed(ctx: OpContext, from: number | string, reason: string): Disagreement {
  return new Disagreement(mismatchError(ctx.label, `rank ${from} reported: ${reason}`), reason, 0);
}

/** One aligned buffer per other rank, of one chunk, that contributions are copied into. */
function peerScratch(ctx: OpContext, layout: ChunkLayout): Float32Array[] {
  const size = Math.min(layout.chunkElements, layout.length);
  return Array.from({ length: ctx.world }, (_, r) =>
    r === ctx.rank ? new Float32Array(0) : new Float32Array(size),
  );
}

/**
 * Pops the W-1 contributions to chunk `c` and copies each into its rank's `scratch`
 * (received bytes are not 4-aligned in general); returns all W slices indexed by rank,
 * this rank's being `own`.
 */
async function collectContributions(
  ctx: OpContext,
  layout: ChunkLayout,
  c: number,
  own: Float32Array,
  scratch: readonly Float32Array[],
): Promise<Float32Array[]> {
  const parts: (Float32Array | undefined)[] = new Array(ctx.world);
  parts[ctx.rank] = own;
  let have = 1;
  const key = ctx.keys.chunkInput(ctx.seq, c);
  const disagree = (detail: string, chunkCount = 0) => found(ctx, `chunk ${c}: ${detail}`, chunkCount);

  await ctx.waits.until(
    {
      label: ctx.label,
      what: `contributions to chunk ${c}`,
      missing: () => missingRanks(ctx.world, (r) => parts[r] !== undefined),
    },
    async (conn, blockMs) => {
      const items = await popUpTo(conn, key, 2 * (ctx.world - have), blockMs);
      for (let i = 0; i < items.length; i += 2) {
        const header = decodeFrameHeader(items[i] as Buffer);
        const payload = items[i + 1];
        if (!header || !payload) throw disagree('a contribution is not a frame');
        if (header.kind === FrameKind.ERROR) {
          throw relayed(ctx, header.rank, payload.toString());
        }
        if (header.length !== layout.length || header.chunkElements !== layout.chunkElements) {
          const theirs = chunkLayout(header.length, header.chunkElements, ctx.world);
          throw disagree(
            `rank ${header.rank} reduces ${header.length} values in chunks of ${header.chunkElements}, ` +
              `rank ${ctx.rank} reduces ${layout.length} in chunks of ${layout.chunkElements}`,
            theirs.count,
          );
        }
        if (header.rank >= ctx.world || parts[header.rank] !== undefined) {
          throw disagree(`rank ${header.rank} contributed twice (two processes with one rank?)`);
        }
        if (payload.length !== own.length * 4) {
          throw disagree(`rank ${header.rank} sent ${payload.length} bytes, expected ${own.length * 4}`);
        }
        const slot = (scratch[header.rank] as Float32Array).subarray(0, own.length);
        new Uint8Array(slot.buffer, slot.byteOffset, payload.length).set(payload);
        parts[header.rank] = slot;
        have++;
      }
      return have === ctx.world;
    },
  );
  return parts as Float32Array[];
}

/** Reads the owner's output of chunk `c`: the reduced bytes, or throws the owner's error. */
async function readChunkMean(ctx: OpContext, c: number, owner: number): Promise<Buffer> {
  const key = ctx.keys.chunkOutput(ctx.seq, c);
  let mean: Buffer | undefined;
  await ctx.waits.until(
    { label: ctx.label, what: `the reduced chunk ${c}`, missing: () => [owner] },
    async (conn, blockMs) => {
      const [entry] = await readEntries(conn, key, '0', 1, blockMs);
      if (!entry) return false;
      const error = entry.fields.get(ERROR_FIELD);
      if (error) {
        throw relayed(ctx, entry.fields.get(RANK_FIELD)?.toString() ?? '?', error.toString());
      }
      mean = entry.fields.get(MEAN_FIELD);
      if (!mean) throw found(ctx, `chunk ${c}: the output entry has no values`, 0);
      return true;
    },
  );
  return mean as Buffer;
}

/**
 * Fails the operation for every rank: an error frame into every chunk's input list and an
 * error entry into every chunk's output stream (each with a TTL), for chunks [0, chunkCount).
 */
async function postError(ctx: OpContext, chunkCount: number, reason: string): Promise<void> {
  const writes = new PendingWrites();
  const header = encodeFrameHeader({ kind: FrameKind.ERROR, rank: ctx.rank, length: 0, chunkElements: 0 });
  const message = Buffer.from(reason);
  for (let c = 0; c < chunkCount; c++) {
    if (c % ctx.world !== ctx.rank) {
      writes.add(pushWithTtl(ctx.cmd, ctx.keys.chunkInput(ctx.seq, c), ctx.ttlMs, [header, message]));
    }
    writes.add(
      appendWithTtl(ctx.cmd, ctx.keys.chunkOutput(ctx.seq, c), ctx.ttlMs, [
        ERROR_FIELD,
        message,
        RANK_FIELD,
        String(ctx.rank),
      ]),
    );
  }
  await writes.settle();
}
