import type { Redis } from '@trainyard/core';

/**
 * The few Redis commands the collective issues, in Buffer form. A write and its TTL go in
 * one MULTI on one key, so no key ever exists without a TTL, and a Redis Cluster would accept
 * it (one key, one slot). Writes are not awaited one by one: each is sent at once, so a run
 * of them is pipelined on the wire.
 */

export interface StreamEntry {
  readonly id: string;
  readonly fields: ReadonlyMap<string, Buffer>;
}

type Arg = string | number | Buffer;
type ExecResult = [error: Error | null, result: unknown][] | null;

function assertExec(result: ExecResult, key: string): void {
  if (result === null) throw new Error(`transaction on ${key} was discarded`);
  for (const [err] of result) if (err) throw err;
}

/** RPUSH `elements` (atomically, in order) and set the list's TTL, in one MULTI. */
export async function pushWithTtl(
  cmd: Redis,
  key: string,
  ttlMs: number,
  elements: readonly Buffer[],
): Promise<void> {
  assertExec(
    await cmd
      .multi()
      .rpush(key, ...elements)
      .pexpire(key, ttlMs)
      .exec(),
    key,
  );
}

/** XADD one entry of field/value pairs and set the stream's TTL, in one MULTI. */
export async function appendWithTtl(
  cmd: Redis,
  key: string,
  ttlMs: number,
  fields: readonly Arg[],
): Promise<void> {
  assertExec(
    await cmd
      .multi()
      .xadd(key, '*', ...fields)
      .pexpire(key, ttlMs)
      .exec(),
    key,
  );
}

/** BLMPOP: up to `count` elements from the head of a list, blocking at most `blockMs`; [] when none came. */
export async function popUpTo(conn: Redis, key: string, count: number, blockMs: number): Promise<Buffer[]> {
  const reply = await conn.blmpopBuffer((blockMs / 1000).toFixed(3), 1, key, 'LEFT', 'COUNT', count);
  return reply ? reply[1] : [];
}

/** XREAD BLOCK: up to `count` entries after `afterId`, blocking at most `blockMs`; [] when none came. */
export async function readEntries(
  conn: Redis,
  key: string,
  afterId: string,
  count: number,
  blockMs: number,
): Promise<StreamEntry[]> {
  const reply = await conn.callBuffer('XREAD', 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, afterId);
  return parseXread(reply);
}

function isBufferArray(value: unknown): value is Buffer[] {
  return Array.isArray(value) && value.every((v) => Buffer.isBuffer(v));
}

/** Parses XREAD's reply for one stream: [[key, [[id, [field, value, ...]], ...]]] or null. */
export function parseXread(reply: unknown): StreamEntry[] {
  if (reply === null) return [];
  const stream = Array.isArray(reply) ? reply[0] : undefined;
  const raw = Array.isArray(stream) ? stream[1] : undefined;
  if (!Array.isArray(raw)) throw new Error('unexpected XREAD reply');
  return raw.map((entry: unknown) => {
    if (!Array.isArray(entry) || !Buffer.isBuffer(entry[0]) || !isBufferArray(entry[1])) {
      throw new Error('unexpected XREAD entry');
    }
    const pairs = entry[1];
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < pairs.length; i += 2)
      fields.set((pairs[i] as Buffer).toString(), pairs[i + 1] as Buffer);
    return { id: entry[0].toString(), fields };
  });
}
