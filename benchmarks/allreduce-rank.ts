/**
 * One rank of the all-reduce benchmark (a child process of benchmarks/allreduce.ts).
 * argv[2] is a JSON RankJob. One collective per chunk size (each on its own group); for each
 * vector size: fill with rank+1, warm up, then run the timed iterations with the chunk sizes
 * interleaved (so machine noise hits them alike), timing each between a barrier and the end of
 * allReduceMean, and checking the result. Rank 0 prints one JSON line:
 * { rows: [{ elems, chunk, iterTimesS (max over ranks per iteration) }] }.
 */
import { RedisCollective } from '@trainyard/collective';
import { closeRedis, createRedis } from '@trainyard/core';

interface RankJob {
  url: string;
  group: string;
  rank: number;
  world: number;
  chunks: number[];
  timeoutMs: number;
  sizes: { elems: number; warmup: number; iters: number }[];
}

const job = JSON.parse(process.argv[2] ?? '{}') as RankJob;
const redis = createRedis(job.url, `bench-rank-${job.rank}`);
const colls = job.chunks.map(
  (chunkElements) =>
    new RedisCollective({
      redis,
      group: `${job.group}.c${chunkElements}`,
      rank: job.rank,
      world: job.world,
      timeoutMs: job.timeoutMs,
      chunkElements,
    }),
);

try {
  const first = colls[0] as RedisCollective;
  await first.barrier();
  const rows: { elems: number; chunk: number; iterTimesS: number[] }[] = [];
  const expected = (job.world + 1) / 2;
  for (const { elems, warmup, iters } of job.sizes) {
    const data = new Float32Array(elems).fill(job.rank + 1);
    const times = job.chunks.map((): number[] => []);
    for (let i = 0; i < warmup + iters; i++) {
      for (const [k, coll] of colls.entries()) {
        await coll.barrier();
        const t0 = process.hrtime.bigint();
        const out = await coll.allReduceMean(data);
        const t = Number(process.hrtime.bigint() - t0) / 1e9;
        if (i >= warmup) times[k]?.push(t);
        for (const at of [0, elems >> 1, elems - 1]) {
          if (out[at] !== expected)
            throw new Error(`wrong all-reduce result ${out[at]} at ${at}, expected ${expected}`);
        }
      }
    }
    const all = (await first.allGather(Buffer.from(JSON.stringify(times)))).map(
      (b) => JSON.parse(b.toString()) as number[][],
    );
    for (const [k, chunk] of job.chunks.entries()) {
      const mine = times[k] as number[];
      rows.push({
        elems,
        chunk,
        iterTimesS: mine.map((_, i) => Math.max(...all.map((t) => t[k]?.[i] as number))),
      });
    }
  }
  if (job.rank === 0) process.stdout.write(`${JSON.stringify({ rows })}\n`);
} finally {
  await Promise.all(colls.map((c) => c.close()));
  await closeRedis(redis);
}
