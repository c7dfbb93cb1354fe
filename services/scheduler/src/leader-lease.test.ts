import { performance } from 'node:perf_hooks';
import { createLogger, type Redis } from '@trainyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { LeaderLease, type LeaseLossReason } from './leader-lease.js';

const LEASE_MS = 1200;

interface Replica {
  readonly lease: LeaderLease;
  readonly redis: Redis;
  /** performance.now() of each acquire and loss, in order. */
  readonly events: { kind: 'acquire' | 'lose'; at: number; reason?: LeaseLossReason }[];
}

describe('LeaderLease (real Redis)', () => {
  let fx: RedisFixture;
  const replicas: Replica[] = [];

  const replica = (holderId: string): Replica => {
    const redis = fx.redis.duplicate();
    const events: Replica['events'] = [];
    const lease = new LeaderLease({
      redis,
      key: fx.keys.schedulerLeader(),
      holderId,
      leaseMs: LEASE_MS,
      logger: createLogger('lease-test', 'silent'),
      onAcquire: () => events.push({ kind: 'acquire', at: performance.now() }),
      onLose: (reason) => events.push({ kind: 'lose', at: performance.now(), reason }),
    });
    const r = { lease, redis, events };
    replicas.push(r);
    return r;
  };

  const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  beforeEach(async () => {
    fx = await redisFixture();
  });

  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      await r.lease.close();
      r.redis.disconnect();
    }
    await fx.cleanup();
  });

  it('lets exactly one of two replicas lead, and hands over within a third of a lease when it closes', async () => {
    const a = replica('a');
    const b = replica('b');
    await a.lease.start(); // the key is free: leads at once
    await b.lease.start();
    expect(a.lease.state).toBe('leader');
    expect(a.lease.isLeader).toBe(true);
    expect(await a.lease.holds()).toBe(true);
    expect(b.lease.state).toBe('standby');
    expect(await b.lease.holds()).toBe(false);
    expect(await fx.redis.get(fx.keys.schedulerLeader())).toBe('a');

    // Over several lease periods, renewals keep a leading and b standing by.
    await new Promise((r) => setTimeout(r, LEASE_MS * 2));
    expect([a.lease.state, b.lease.state]).toEqual(['leader', 'standby']);
    expect(a.events.map((e) => e.kind)).toEqual(['acquire']);
    expect(b.events).toEqual([]);
    const ttl = await fx.redis.pttl(fx.keys.schedulerLeader());
    expect(ttl).toBeGreaterThan(LEASE_MS / 2);

    const closedAt = performance.now();
    await a.lease.close();
    await a.lease.close(); // idempotent
    expect(a.lease.state).toBe('closed');
    expect(a.events.map((e) => e.kind)).toEqual(['acquire', 'lose']);
    expect(a.events[1]!.reason).toBe('closed');
    await waitUntil('b to lead', () => b.lease.state === 'leader');
    expect(b.events[0]!.at - closedAt).toBeLessThan(LEASE_MS / 3 + 150);
    expect(await fx.redis.get(fx.keys.schedulerLeader())).toBe('b');
  });

  it('takes over from a leader that stopped renewing (crashed) within one lease, not before its key expires', async () => {
    const a = replica('a');
    const b = replica('b');
    await a.lease.start();
    await b.lease.start();
    await new Promise((r) => setTimeout(r, LEASE_MS / 2)); // a has renewed at least once
    expect(a.lease.state).toBe('leader');

    // A crash: a's connection goes away without releasing; its key lives on until it expires.
    const crashedAt = performance.now();
    a.redis.disconnect();
    const ttlAtCrash = await fx.redis.pttl(fx.keys.schedulerLeader());
    expect(ttlAtCrash).toBeGreaterThan(0);

    await waitUntil('b to lead', () => b.lease.state === 'leader', LEASE_MS * 3);
    const tookOverAfter = b.events[0]!.at - crashedAt;
    expect(tookOverAfter).toBeGreaterThanOrEqual(ttlAtCrash - 50); // never while a's key lived
    expect(tookOverAfter).toBeLessThan(LEASE_MS + 200); // within one lease, plus slack
    expect(await fx.redis.get(fx.keys.schedulerLeader())).toBe('b');

    // The crashed replica, cut off from Redis, stepped down on its own clock.
    expect(a.lease.state).toBe('standby');
    expect(a.lease.isLeader).toBe(false);
    expect(a.events.map((e) => [e.kind, e.reason])).toEqual([
      ['acquire', undefined],
      ['lose', 'expired'],
    ]);
    expect(a.events[1]!.at).toBeLessThanOrEqual(b.events[0]!.at + 20);
  });

  it('steps down at once when a renewal finds the lease gone or held by another, then tries again', async () => {
    const a = replica('a');
    await a.lease.start();
    expect(a.lease.state).toBe('leader');
    // As after a long pause: another replica holds the key when a next renews.
    await fx.redis.set(fx.keys.schedulerLeader(), 'intruder', 'PX', LEASE_MS);
    await waitUntil('a to step down', () => a.lease.state === 'standby', LEASE_MS);
    expect(a.events.map((e) => [e.kind, e.reason])).toEqual([
      ['acquire', undefined],
      ['lose', 'lost'],
    ]);
    expect(await a.lease.holds()).toBe(false);
    // As after a Redis restart: the key is gone; a leads again, with no other holder.
    await fx.redis.del(fx.keys.schedulerLeader());
    await waitUntil('a to lead again', () => a.lease.state === 'leader', LEASE_MS);
    expect(await fx.redis.get(fx.keys.schedulerLeader())).toBe('a');
    // Closing releases only a lease that is ours.
    await fx.redis.set(fx.keys.schedulerLeader(), 'other', 'PX', LEASE_MS);
    await a.lease.close();
    expect(await fx.redis.get(fx.keys.schedulerLeader())).toBe('other');
  });
});
