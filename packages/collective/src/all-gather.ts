import { mismatchError } from './collective-errors.js';
import { READER_DONE } from './collective-scripts.js';
import { missingRanks, type OpContext } from './op-context.js';
import { appendWithTtl, readEntries } from './redis-io.js';

/**
 * allGather (and barrier and rendezvous over it): every rank appends one entry (its rank and
 * payload) to the operation's stream, then reads the stream (XREAD BLOCK) until it holds an
 * entry from every rank. Entries are read in stream order, so two entries that claim one rank
 * fail with COLLECTIVE_MISMATCH every rank that has not finished yet, and the late claimer
 * always. The last of the W readers deletes the stream (READER_DONE).
 */

const RANK_FIELD = 'r';
const PAYLOAD_FIELD = 'p';
const ERROR_FIELD = 'e';

export async function allGather(ctx: OpContext, payload: Buffer): Promise<Buffer[]> {
  if (ctx.world === 1) return [Buffer.from(payload)];
  const key = ctx.keys.opData(ctx.seq);
  await publish(ctx, key, [RANK_FIELD, String(ctx.rank), PAYLOAD_FIELD, payload]);
  const got: (Buffer | undefined)[] = new Array(ctx.world);
  let have = 0;
  let lastId = '0';
  await ctx.waits.until(
    {
      label: ctx.label,
      what: 'one entry from every rank',
      missing: () => missingRanks(ctx.world, (r) => got[r] !== undefined),
    },
    async (conn, blockMs) => {
      for (const entry of await readEntries(conn, key, lastId, ctx.world + 1, blockMs)) {
        lastId = entry.id;
        const rank = Number(entry.fields.get(RANK_FIELD)?.toString());
        const value = entry.fields.get(PAYLOAD_FIELD);
        if (!Number.isInteger(rank) || rank < 0 || rank >= ctx.world || value === undefined) {
          throw mismatchError(ctx.label, `an entry names rank ${rank} of a world of ${ctx.world}`);
        }
        if (got[rank] !== undefined) throw mismatchError(ctx.label, `two joiners claim rank ${rank}`);
        got[rank] = value;
        have++;
      }
      return have === ctx.world;
    },
  );
  await readerDone(ctx, key, ctx.world);
  return got as Buffer[];
}

/**
 * broadcast: the root appends its payload to the operation's stream and returns; every other
 * rank reads the first entry, checks it comes from the root, and the last of the W-1 readers
 * deletes the stream. A root without a payload posts an error entry, so the others fail with
 * COLLECTIVE_MISMATCH at once.
 */
export async function broadcast(ctx: OpContext, payload: Buffer | null, root: number): Promise<Buffer> {
  const key = ctx.keys.opData(ctx.seq);
  if (ctx.rank === root) {
    if (payload === null) {
      const error = mismatchError(ctx.label, `root ${root} has no payload to broadcast`);
      if (ctx.world > 1) await publish(ctx, key, [RANK_FIELD, String(root), ERROR_FIELD, error.message]);
      throw error;
    }
    if (ctx.world > 1) await publish(ctx, key, [RANK_FIELD, String(root), PAYLOAD_FIELD, payload]);
    return payload;
  }
  let value: Buffer | undefined;
  await ctx.waits.until(
    { label: ctx.label, what: `the broadcast of root ${root}`, missing: () => [root] },
    async (conn, blockMs) => {
      const [entry] = await readEntries(conn, key, '0', 1, blockMs);
      if (!entry) return false;
      const from = entry.fields.get(RANK_FIELD)?.toString();
      const error = entry.fields.get(ERROR_FIELD);
      if (error) throw mismatchError(ctx.label, `rank ${from} reported: ${error.toString()}`);
      if (from !== String(root))
        throw mismatchError(ctx.label, `rank ${from} broadcast, but the root is ${root}`);
      value = entry.fields.get(PAYLOAD_FIELD);
      if (value === undefined) throw mismatchError(ctx.label, 'the broadcast entry has no payload');
      return true;
    },
  );
  await readerDone(ctx, key, ctx.world - 1);
  return value as Buffer;
}

/** Appends one entry (with the stream's TTL), within the deadline. */
async function publish(ctx: OpContext, key: string, fields: (string | Buffer)[]): Promise<void> {
  await ctx.waits.acknowledged(
    ctx.label,
    'Redis to acknowledge an entry',
    appendWithTtl(ctx.cmd, key, ctx.ttlMs, fields),
  );
}

/** Counts this rank as done reading `key`; the last of `readers` deletes it and the counter. */
async function readerDone(ctx: OpContext, key: string, readers: number): Promise<void> {
  await ctx.waits.acknowledged(
    ctx.label,
    'Redis to count this reader',
    READER_DONE.run(ctx.cmd, [ctx.keys.opDone(ctx.seq), key], [readers, ctx.ttlMs]),
  );
}
