import {
  Counter,
  createRedis,
  Errors,
  Histogram,
  isTrainyardError,
  type Redis,
  Registry,
} from '@trainyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import {
  type CollectiveHarness,
  describeCollectiveConformance,
  expectByteIdentical,
  type MemberOptions,
  rankData,
  rejection,
} from './collective-conformance.js';
import { createCollectiveKeys } from './collective-keys.js';
import { decodeFrameHeader, FRAME_HEADER_BYTES, FrameKind } from './contribution-frame.js';
import { float32Bytes } from './float32-bytes.js';
import { RedisCollective } from './redis-collective.js';

interface RedisHarness extends CollectiveHarness {
  readonly fx: RedisFixture;
  readonly group: string;
  member(rank: number, world: number, options?: MemberOptions): Promise<RedisCollective>;
}

/** One group on a fresh prefix; every member on its own connection, as separate processes would be. */
async function redisHarness(
  extra: Partial<ConstructorParameters<typeof RedisCollective>[0]> = {},
): Promise<RedisHarness> {
  const fx = await redisFixture();
  const group = fx.keys.collectiveGroup('job-1', 0);
  const members: RedisCollective[] = [];
  const conns: Redis[] = [];
  return {
    fx,
    group,
    async member(rank: number, world: number, options: MemberOptions = {}) {
      const redis = createRedis(fx.url, `test-rank-${rank}`);
      conns.push(redis);
      const coll = new RedisCollective({
        redis,
        group,
        rank,
        world,
        timeoutMs: 10_000,
        ...options,
        ...extra,
      });
      members.push(coll);
      return coll;
    },
    async close() {
      await Promise.all(members.map((m) => m.close()));
      await Promise.all(conns.map((c) => c.quit()));
      await fx.cleanup();
    },
  };
}

describeCollectiveConformance('RedisCollective', () => redisHarness());

/** Every key under the prefix, with its PTTL. */
async function keysWithTtl(fx: RedisFixture): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, found] = await fx.redis.scan(cursor, 'MATCH', `${fx.prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of found) out.set(key, await fx.redis.pttl(key));
  } while (cursor !== '0');
  return out;
}

describe('RedisCollective on Redis', () => {
  let harness: RedisHarness | null = null;
  const open = async (world: number, options?: MemberOptions, extra = {}) => {
    harness = await redisHarness(extra);
    const h = harness;
    return {
      h,
      ranks: await Promise.all(Array.from({ length: world }, (_, r) => h.member(r, world, options))),
    };
  };
  afterEach(async () => {
    await harness?.close();
    harness = null;
  });

  it('leaves no key behind once every operation has completed', async () => {
    const { h, ranks } = await open(3, { chunkElements: 50 });
    for (let i = 0; i < 3; i++) {
      const inputs = ranks.map((_, r) => rankData(r, 1001, i));
      expectByteIdentical(await Promise.all(ranks.map((c, r) => c.allReduceMean(inputs[r] as Float32Array))));
      await Promise.all(ranks.map((c) => c.barrier()));
      await Promise.all(ranks.map((c, r) => c.allGather(Buffer.from([r]))));
      await Promise.all(ranks.map((c) => c.broadcast(c.rank === 1 ? Buffer.from('hi') : null, 1)));
      await Promise.all(ranks.map((c, r) => c.rendezvous({ r })));
    }
    expect([...(await keysWithTtl(h.fx)).keys()]).toEqual([]);
  });

  const expectAllHaveTtl = async (fx: RedisFixture) => {
    const keys = await keysWithTtl(fx);
    expect(keys.size).toBeGreaterThan(0);
    for (const [key, ttl] of keys) {
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(60_000);
    }
  };

  it('leaves only keys with a TTL after a missed deadline', async () => {
    const { h, ranks } = await open(3, { chunkElements: 10, timeoutMs: 1000 });
    await Promise.all([
      rejection(ranks[0]!.allReduceMean(rankData(0, 95))),
      rejection(ranks[1]!.allReduceMean(rankData(1, 95))),
    ]);
    await expectAllHaveTtl(h.fx);
  });

  it('leaves only keys with a TTL after a mismatch', async () => {
    const { h, ranks } = await open(2, { chunkElements: 10, timeoutMs: 5000 });
    await Promise.all([
      rejection(ranks[0]!.allReduceMean(rankData(0, 30))),
      rejection(ranks[1]!.allReduceMean(rankData(1, 31))),
    ]);
    await expectAllHaveTtl(h.fx);
  });

  it('sends raw float32 bytes behind a 16-byte header, on hash-tagged keys with a TTL', async () => {
    const ac = new AbortController();
    const { h, ranks } = await open(2, { chunkElements: 4, signal: ac.signal });
    const data = rankData(1, 10);
    const pending = rejection(ranks[1]!.allReduceMean(data)); // rank 0 never comes: chunks 0 and 2 wait for it
    const key = createCollectiveKeys(h.group).chunkInput(1, 0);
    expect(key).toBe(`${h.group}:{job-1.0.1.0}:in`);
    let items: Buffer[] = [];
    for (let i = 0; i < 50 && items.length === 0; i++) {
      items = await h.fx.redis.lrangeBuffer(key, 0, -1);
      if (items.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveLength(FRAME_HEADER_BYTES);
    expect(decodeFrameHeader(items[0] as Buffer)).toEqual({
      kind: FrameKind.DATA,
      rank: 1,
      length: 10,
      chunkElements: 4,
    });
    expect(Buffer.compare(items[1] as Buffer, float32Bytes(data, 0, 4))).toBe(0);
    expect(await h.fx.redis.pttl(key)).toBeGreaterThan(0);
    ac.abort();
    expect(isTrainyardError((await pending).err, Errors.COLLECTIVE_ABORTED)).toBe(true);
  });

  it('records all-reduce bytes and seconds in the metrics it is given', async () => {
    const registry = new Registry();
    const bytes = new Counter({ name: 'test_collective_bytes_total', help: 'b', registers: [registry] });
    const seconds = new Histogram({
      name: 'test_collective_allreduce_seconds',
      help: 's',
      registers: [registry],
    });
    const { ranks } = await open(2, { chunkElements: 100 }, { metrics: { bytes, seconds } });
    await Promise.all(ranks.map((c, r) => c.allReduceMean(rankData(r, 1000))));
    // each rank: sends 500 values, publishes 500, reads 500 — both ranks count into the one counter
    expect((await bytes.get()).values[0]?.value).toBe(2 * 3 * 500 * 4);
    const count = (await seconds.get()).values.find(
      (v) => v.metricName === 'test_collective_allreduce_seconds_count',
    );
    expect(count?.value).toBe(2);
  });

  it('closes only the connection it duplicated', async () => {
    const { h, ranks } = await open(2);
    await Promise.all(ranks.map((c) => c.barrier()));
    const named = async () =>
      String(await h.fx.redis.client('LIST'))
        .split('\n')
        .filter((l) => /name=collective-\d+-of-2/.test(l) && l.includes(`db=0`)).length;
    expect(await named()).toBeGreaterThanOrEqual(2);
    await Promise.all(ranks.map((c) => c.close()));
    expect(ranks[0]?.state).toBe('closed');
    for (let i = 0; i < 20 && (await named()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    // the command connections the members were given are still usable
    const probe = createRedis(h.fx.url, 'probe');
    expect(await probe.ping()).toBe('PONG');
    await probe.quit();
  });

  it('fails with COLLECTIVE_TIMEOUT, not a hang, when Redis does not answer', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'test-dead'); // nothing listens: commands queue
    dead.on('error', () => {});
    const coll = new RedisCollective({
      redis: dead,
      group: 'dead:coll:j.0',
      rank: 0,
      world: 2,
      timeoutMs: 1000,
    });
    try {
      const { err, ms } = await rejection(coll.barrier());
      expect(isTrainyardError(err, Errors.COLLECTIVE_TIMEOUT), String(err)).toBe(true);
      expect(String(err)).toMatch(/barrier #1 rank 0\/2: waited \d+ms for Redis to acknowledge an entry/);
      expect(ms).toBeLessThan(3000);
    } finally {
      await coll.close();
      dead.disconnect();
    }
  });

  it('rejects bad options with CONFIG_INVALID naming the field', async () => {
    const fx = await redisFixture();
    try {
      const base = { redis: fx.redis, group: fx.keys.collectiveGroup('j', 1), timeoutMs: 1000 };
      expect(() => new RedisCollective({ ...base, rank: 2, world: 2 })).toThrow(
        /rank must be an integer in \[0, 1\], got 2/,
      );
      expect(() => new RedisCollective({ ...base, rank: 0, world: 0 })).toThrow(/world must be/);
      expect(() => new RedisCollective({ ...base, rank: 0, world: 1, group: 'a{b}' })).toThrow(
        /group must be/,
      );
      expect(() => new RedisCollective({ ...base, rank: 0, world: 1, chunkElements: 0 })).toThrow(
        /chunkElements/,
      );
      expect(() => new RedisCollective({ ...base, rank: 0, world: 1, ttlMs: 10 })).toThrow(/ttlMs/);
      try {
        new RedisCollective({ ...base, rank: -1, world: 1 });
      } catch (err) {
        expect(isTrainyardError(err, Errors.CONFIG_INVALID)).toBe(true);
      }
    } finally {
      await fx.cleanup();
    }
  });
});
