/**
 * The conformance suite every Collective implementation runs (test-only: imported by
 * *.test.ts, never by the front door). A harness opens members of one fresh group; the
 * suite drives W of them concurrently, as W ranks would.
 */
import { Errors, isTrainyardError, SeededRandom } from '@trainyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { Collective } from './collective.js';
import { float32Bytes } from './float32-bytes.js';

export interface MemberOptions {
  readonly timeoutMs?: number;
  readonly chunkElements?: number;
  readonly signal?: AbortSignal;
}

/** Members of ONE group (one job generation). */
export interface CollectiveHarness {
  member(rank: number, world: number, options?: MemberOptions): Promise<Collective>;
  /** Closes every member and removes what the group left behind. */
  close(): Promise<void>;
}

/** Values spread over several magnitudes and both signs, different on every rank. */
export function rankData(rank: number, length: number, seed = 1): Float32Array {
  const rng = new SeededRandom(seed, rank);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (rng.next() - 0.5) * 10 ** (rng.nextInt(7) - 3);
  return out;
}

/** The float64 mean of the ranks' vectors, the reference the float32 result is held to. */
export function float64Mean(inputs: readonly Float32Array[]): Float64Array {
  const length = inputs[0]?.length ?? 0;
  const out = new Float64Array(length);
  for (const input of inputs)
    for (let i = 0; i < length; i++) out[i] = (out[i] as number) + (input[i] as number);
  for (let i = 0; i < length; i++) out[i] = (out[i] as number) / inputs.length;
  return out;
}

/** max |result − mean| ≤ 1e-6 × max |mean|. */
export function expectCloseToMean(result: Float32Array, mean: Float64Array): void {
  expect(result.length).toBe(mean.length);
  let maxErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < mean.length; i++) {
    maxErr = Math.max(maxErr, Math.abs((result[i] as number) - (mean[i] as number)));
    maxAbs = Math.max(maxAbs, Math.abs(mean[i] as number));
  }
  expect(maxErr).toBeLessThanOrEqual(1e-6 * maxAbs);
}

export function expectByteIdentical(results: readonly Float32Array[]): void {
  const first = float32Bytes(results[0] as Float32Array);
  for (const r of results) expect(Buffer.compare(float32Bytes(r), first)).toBe(0);
}

/** Resolves to the error `promise` rejects with, and how long after `since` it did; fails if it resolves. */
export async function rejection(
  promise: Promise<unknown>,
  since = Date.now(),
): Promise<{ err: unknown; ms: number }> {
  try {
    await promise;
  } catch (err) {
    return { err, ms: Date.now() - since };
  }
  throw new Error('expected a rejection, got a value');
}

export function describeCollectiveConformance(name: string, open: () => Promise<CollectiveHarness>): void {
  describe(`Collective conformance: ${name}`, () => {
    let harness: CollectiveHarness | null = null;
    const group = async () => {
      harness = await open();
      return harness;
    };
    const members = async (world: number, options?: MemberOptions) => {
      const h = await group();
      return Promise.all(Array.from({ length: world }, (_, r) => h.member(r, world, options)));
    };
    afterEach(async () => {
      await harness?.close();
      harness = null;
    });

    describe('allReduceMean', () => {
      for (const world of [1, 2, 3, 4]) {
        for (const length of [0, 1, 3, 7, 1000, 1_000_003]) {
          it(`W=${world}, ${length} values in chunks of 65536`, async () => {
            const ranks = await members(world, { chunkElements: 65_536 });
            const inputs = ranks.map((_, r) => rankData(r, length));
            const results = await Promise.all(
              ranks.map((c, r) => c.allReduceMean(inputs[r] as Float32Array)),
            );
            expectCloseToMean(results[0] as Float32Array, float64Mean(inputs));
            expectByteIdentical(results);
            for (let r = 0; r < world; r++) expect(results[r] === inputs[r]).toBe(false);
          });
        }
      }

      it('W=3, 1000 values in chunks of 7 (many uneven chunks)', async () => {
        const ranks = await members(3, { chunkElements: 7 });
        const inputs = ranks.map((_, r) => rankData(r, 1000));
        const results = await Promise.all(ranks.map((c, r) => c.allReduceMean(inputs[r] as Float32Array)));
        expectCloseToMean(results[0] as Float32Array, float64Mean(inputs));
        expectByteIdentical(results);
      });

      it('leaves the input untouched and returns a new array', async () => {
        const ranks = await members(2, { chunkElements: 4 });
        const inputs = ranks.map((_, r) => rankData(r, 10));
        const copies = inputs.map((x) => x.slice());
        const results = await Promise.all(ranks.map((c, r) => c.allReduceMean(inputs[r] as Float32Array)));
        expect(inputs).toEqual(copies);
        expect(results[0]?.buffer).not.toBe(inputs[0]?.buffer);
      });

      it('runs many all-reduces in a row on the same collectives, between other operations', async () => {
        const ranks = await members(3, { chunkElements: 100 });
        for (let step = 0; step < 6; step++) {
          const inputs = ranks.map((_, r) => rankData(r, 250 + step * 37, step + 1));
          const results = await Promise.all(ranks.map((c, r) => c.allReduceMean(inputs[r] as Float32Array)));
          expectCloseToMean(results[0] as Float32Array, float64Mean(inputs));
          expectByteIdentical(results);
          if (step % 2 === 0) await Promise.all(ranks.map((c) => c.barrier()));
        }
      });

      it('operations called without awaiting run in call order', async () => {
        const ranks = await members(2, { chunkElements: 8 });
        const a = ranks.map((_, r) => rankData(r, 20, 7));
        const b = ranks.map((_, r) => rankData(r, 33, 8));
        const calls = ranks.map((c, r) => [
          c.allReduceMean(a[r] as Float32Array),
          c.allReduceMean(b[r] as Float32Array),
        ]);
        const first = await Promise.all(calls.map((x) => x[0]));
        const second = await Promise.all(calls.map((x) => x[1]));
        expectCloseToMean(first[0] as Float32Array, float64Mean(a));
        expectCloseToMean(second[0] as Float32Array, float64Mean(b));
      });

      it('fails every rank with COLLECTIVE_MISMATCH, well before the deadline, when lengths differ', async () => {
        const ranks = await members(3, { chunkElements: 4, timeoutMs: 20_000 });
        const since = Date.now();
        const outcomes = await Promise.all(
          ranks.map((c, r) => rejection(c.allReduceMean(rankData(r, r === 2 ? 12 : 10)), since)),
        );
        for (const { err, ms } of outcomes) {
          expect(isTrainyardError(err, Errors.COLLECTIVE_MISMATCH), String(err)).toBe(true);
          expect(ms).toBeLessThan(5_000);
        }
        expect(String(outcomes[0]?.err)).toMatch(/12 values|10 values|reduces/);
      });

      it("fails with COLLECTIVE_MISMATCH when a rank owns nothing of the other rank's layout", async () => {
        const ranks = await members(2, { chunkElements: 1, timeoutMs: 20_000 });
        const since = Date.now();
        const outcomes = await Promise.all([
          rejection(ranks[0]!.allReduceMean(rankData(0, 1)), since),
          rejection(ranks[1]!.allReduceMean(rankData(1, 5)), since),
        ]);
        for (const { err, ms } of outcomes) {
          expect(isTrainyardError(err, Errors.COLLECTIVE_MISMATCH), String(err)).toBe(true);
          expect(ms).toBeLessThan(5_000);
        }
      });

      it('fails with COLLECTIVE_MISMATCH when chunk sizes differ', async () => {
        const h = await group();
        const a = await h.member(0, 2, { chunkElements: 8, timeoutMs: 20_000 });
        const b = await h.member(1, 2, { chunkElements: 16, timeoutMs: 20_000 });
        const outcomes = await Promise.all([
          rejection(a.allReduceMean(rankData(0, 40))),
          rejection(b.allReduceMean(rankData(1, 40))),
        ]);
        for (const { err } of outcomes)
          expect(isTrainyardError(err, Errors.COLLECTIVE_MISMATCH), String(err)).toBe(true);
      });
    });

    describe('allGather, rendezvous, barrier, broadcast', () => {
      it('allGather gives every rank every payload, indexed by rank', async () => {
        for (const world of [1, 2, 4]) {
          const ranks = await members(world);
          const payloads = ranks.map((_, r) => Buffer.from(`rank-${r}-${'x'.repeat(r * 1000)}`));
          payloads[0] = Buffer.from([0, 255, 13, 10, 0]); // binary survives
          const results = await Promise.all(ranks.map((c, r) => c.allGather(payloads[r] as Buffer)));
          for (const res of results) expect(res).toEqual(payloads);
          await harness?.close();
          harness = null;
        }
      });

      it('rendezvous exchanges JSON', async () => {
        const ranks = await members(3);
        const infos = ranks.map((_, r) => ({ rank: r, worker: `w-${r}`, hash: 'abc', nested: [r, null] }));
        const results = await Promise.all(ranks.map((c, r) => c.rendezvous(infos[r])));
        for (const res of results) expect(res).toEqual(infos);
      });

      it('rendezvous fails with COLLECTIVE_MISMATCH when two joiners claim one rank', async () => {
        const h = await group();
        const a = await h.member(0, 2, { timeoutMs: 10_000 });
        const b = await h.member(0, 2, { timeoutMs: 10_000 });
        const c = await h.member(1, 2, { timeoutMs: 10_000 });
        const pa = rejection(a.rendezvous({ who: 'a' }));
        const pb = rejection(b.rendezvous({ who: 'b' }));
        await new Promise((r) => setTimeout(r, 300));
        const pc = rejection(c.rendezvous({ who: 'c' }));
        for (const { err } of await Promise.all([pa, pb, pc])) {
          expect(isTrainyardError(err, Errors.COLLECTIVE_MISMATCH), String(err)).toBe(true);
          expect(String(err)).toMatch(/two joiners claim rank 0/);
        }
      });

      it('barrier waits for the last rank', async () => {
        const ranks = await members(3);
        let lastEntered = 0;
        const early = ranks.slice(0, 2).map(async (c) => {
          await c.barrier();
          return Date.now();
        });
        await new Promise((r) => setTimeout(r, 400));
        lastEntered = Date.now();
        await ranks[2]!.barrier();
        for (const t of await Promise.all(early)) expect(t).toBeGreaterThanOrEqual(lastEntered);
      });

      it('broadcast delivers the root payload to every rank, from any root', async () => {
        const ranks = await members(3);
        for (const root of [0, 2]) {
          const payload = Buffer.from(new Float32Array([1.5, -2, root]).buffer);
          const results = await Promise.all(
            ranks.map((c) => c.broadcast(c.rank === root ? payload : null, root)),
          );
          for (const res of results) expect(Buffer.compare(res, payload)).toBe(0);
        }
      });

      it('broadcast fails every rank with COLLECTIVE_MISMATCH when the root has no payload', async () => {
        const ranks = await members(2, { timeoutMs: 20_000 });
        const since = Date.now();
        for (const { err, ms } of await Promise.all(
          ranks.map((c) => rejection(c.broadcast(null, 0), since)),
        )) {
          expect(isTrainyardError(err, Errors.COLLECTIVE_MISMATCH), String(err)).toBe(true);
          expect(ms).toBeLessThan(5_000);
        }
      });

      it('rejects a root outside the world', async () => {
        const [c] = await members(1);
        await expect(c!.broadcast(Buffer.from('x'), 1)).rejects.toThrow(RangeError);
      });
    });

    describe('deadlines, abort and close', () => {
      it('fails the ranks that came with COLLECTIVE_TIMEOUT when one rank never joins', async () => {
        const ranks = await members(3, { timeoutMs: 1500, chunkElements: 10 });
        const since = Date.now();
        const outcomes = await Promise.all([
          rejection(ranks[0]!.allReduceMean(rankData(0, 100)), since),
          rejection(ranks[1]!.allReduceMean(rankData(1, 100)), since),
        ]);
        for (const { err, ms } of outcomes) {
          expect(isTrainyardError(err, Errors.COLLECTIVE_TIMEOUT), String(err)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(1450);
          expect(ms).toBeLessThan(3500);
          expect(String(err)).toMatch(/allReduce #1 rank [01]\/3: waited \d+ms for ranks \[[\d,]*2[\d,]*\]/);
        }
      });

      it('barrier and rendezvous time out too, naming the missing ranks', async () => {
        const ranks = await members(3, { timeoutMs: 1500 });
        const since = Date.now();
        const { err, ms } = await rejection(ranks[0]!.barrier(), since);
        expect(isTrainyardError(err, Errors.COLLECTIVE_TIMEOUT)).toBe(true);
        expect(String(err)).toMatch(/barrier #1 rank 0\/3: waited \d+ms for ranks \[1,2\]/);
        expect(ms).toBeGreaterThanOrEqual(1450);
        expect(ms).toBeLessThan(3500);
        // the collective is unusable after a failure
        const after = await rejection(ranks[0]!.rendezvous({}));
        expect(isTrainyardError(after.err, Errors.COLLECTIVE_ABORTED)).toBe(true);
      });

      it('aborts a wait promptly through the AbortSignal', async () => {
        const ac = new AbortController();
        const ranks = await members(2, { timeoutMs: 30_000, signal: ac.signal });
        const pending = rejection(ranks[0]!.allReduceMean(rankData(0, 50)));
        await new Promise((r) => setTimeout(r, 300));
        const since = Date.now();
        ac.abort(new Error('generation cancelled'));
        const { err } = await pending;
        expect(Date.now() - since).toBeLessThan(1500);
        expect(isTrainyardError(err, Errors.COLLECTIVE_ABORTED), String(err)).toBe(true);
        expect(String(err)).toMatch(/generation cancelled/);
        const later = await rejection(ranks[1]!.barrier());
        expect(isTrainyardError(later.err, Errors.COLLECTIVE_ABORTED)).toBe(true);
      });

      it('close() ends a wait in progress and is idempotent', async () => {
        const ranks = await members(2, { timeoutMs: 30_000 });
        const pending = rejection(ranks[0]!.barrier());
        await new Promise((r) => setTimeout(r, 200));
        const since = Date.now();
        await Promise.all([ranks[0]!.close(), ranks[0]!.close()]);
        const { err } = await pending;
        expect(Date.now() - since).toBeLessThan(1500);
        expect(isTrainyardError(err, Errors.COLLECTIVE_ABORTED), String(err)).toBe(true);
        await ranks[0]!.close();
        const after = await rejection(ranks[0]!.barrier());
        expect(isTrainyardError(after.err, Errors.COLLECTIVE_ABORTED)).toBe(true);
      });
    });
  });
}
