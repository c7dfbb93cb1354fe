/**
 * All-reduce over Redis, measured against two baselines in the same run:
 *   - raw Redis: one client SETs then GETs the same bytes (in values of one chunk), pipelined;
 *   - PyTorch Gloo all-reduce on loopback (../shared/bench/gloo_allreduce.py), when torch is installed.
 *
 *   npx tsx benchmarks/allreduce.ts [--json] [--worlds 2,4] [--elems 1000000,4000000,25000000]
 *                                   [--chunk 524288[,262144,...]] [--iters 10] [--no-gloo]
 *
 * Each rank is a separate OS process (benchmarks/allreduce-rank.ts). Per size: 2 warm-ups, then
 * `iters` timed iterations (barrier, then allReduceMean); an iteration's time is the max over
 * ranks; we report the median. algbw = 4·N bytes / time; busbw = algbw · 2(W-1)/W (nccl-tests).
 * Several --chunk sizes are measured interleaved, iteration by iteration, so that noise from
 * other work on the machine hits them alike (that is how the default chunk size was chosen).
 * Starts a private redis-server unless REDIS_URL is set.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CHUNK_ELEMENTS } from '@trainyard/collective';
import { closeRedis, createKeys, createRedis, type Redis } from '@trainyard/core';
import { startRedisServer } from '@trainyard/devkit';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const GLOO_SCRIPT = resolve(REPO, '../shared/bench/gloo_allreduce.py');
const WARMUP = 2;

interface Args {
  json: boolean;
  worlds: number[];
  elems: number[];
  chunks: number[];
  iters: number;
  gloo: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    json: false,
    worlds: [2, 4],
    elems: [1_000_000, 4_000_000, 25_000_000],
    chunks: [DEFAULT_CHUNK_ELEMENTS],
    iters: 10,
    gloo: true,
  };
  const list = (v: string | undefined) => (v ?? '').split(',').map((x) => Number(x.replace(/_/g, '')));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--no-gloo') args.gloo = false;
    else if (a === '--worlds') args.worlds = list(argv[++i]);
    else if (a === '--elems') args.elems = list(argv[++i]);
    else if (a === '--chunk') args.chunks = list(argv[++i]);
    else if (a === '--iters') args.iters = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  for (const n of [...args.worlds, ...args.elems, ...args.chunks, args.iters]) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`bad number in arguments: ${n}`);
  }
  return args;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Row {
  world: number;
  elems: number;
  chunk: number;
  bytes: number;
  iters: number;
  medianS: number;
  minS: number;
  maxS: number;
  algbwGBps: number;
  busbwGBps: number;
  rawSetGetGBps: number;
  ratioToRaw: number;
  glooAlgbwGBps: number | null;
  ratioToGloo: number | null;
}

/** Runs W rank processes over all sizes; returns per-iteration times (max over ranks) by "elems:chunk". */
async function runWorld(url: string, args: Args, world: number): Promise<Map<string, number[]>> {
  const group = createKeys('bench').collectiveGroup(`ar-${randomUUID().slice(0, 8)}`, world);
  const sizes = args.elems.map((elems) => ({ elems, warmup: WARMUP, iters: args.iters }));
  const outputs = await Promise.all(
    Array.from({ length: world }, (_, rank) => {
      const job = { url, group, rank, world, chunks: args.chunks, timeoutMs: 120_000, sizes };
      return new Promise<string>((res, rej) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(HERE, 'allreduce-rank.ts'), JSON.stringify(job)],
          { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.on('error', rej);
        child.on('exit', (code) =>
          code === 0 ? res(out) : rej(new Error(`rank ${rank} of ${world} exited with ${code}`)),
        );
      });
    }),
  );
  const line = (outputs[0] ?? '').split('\n').find((l) => l.startsWith('{"rows":'));
  if (!line) throw new Error(`rank 0 of ${world} printed no result`);
  const parsed = JSON.parse(line) as { rows: { elems: number; chunk: number; iterTimesS: number[] }[] };
  return new Map(parsed.rows.map((r) => [`${r.elems}:${r.chunk}`, r.iterTimesS]));
}

/** SET then GET times (s) of 4·N bytes in values of `chunk` float32s, one client, pipelined; `iters` after 2 warm-ups. */
async function rawSetGetTimes(redis: Redis, elems: number, chunk: number, iters: number): Promise<number[]> {
  const bytes = elems * 4;
  const data = Buffer.alloc(bytes, 7);
  const values: Buffer[] = [];
  for (let off = 0; off < bytes; off += chunk * 4)
    values.push(data.subarray(off, Math.min(off + chunk * 4, bytes)));
  const key = (i: number) => `bench:raw:{${i}}`;
  const times: number[] = [];
  for (let it = 0; it < WARMUP + iters; it++) {
    const t0 = process.hrtime.bigint();
    const set = redis.pipeline();
    for (const [i, v] of values.entries()) set.set(key(i), v);
    await set.exec();
    const get = redis.pipeline();
    for (let i = 0; i < values.length; i++) get.getBuffer(key(i));
    const got = await get.exec();
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    if ((got?.[0]?.[1] as Buffer | undefined)?.length !== values[0]?.length)
      throw new Error('raw GET returned wrong bytes');
    if (it >= WARMUP) times.push(t);
  }
  await redis.del(...values.map((_, i) => key(i)));
  return times;
}

function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

/** Gloo algbw (GB/s) by "world:elems", or a reason it was skipped. */
function runGloo(args: Args): { bw: Map<string, number>; note: string } {
  const bw = new Map<string, number>();
  if (!args.gloo) return { bw, note: 'Gloo: skipped (--no-gloo)' };
  if (!existsSync(GLOO_SCRIPT)) return { bw, note: `Gloo: skipped (${GLOO_SCRIPT} not found)` };
  const py = findTorchPython();
  if (!py)
    return { bw, note: 'Gloo: skipped (python3 cannot `import torch`; see ../shared/bench/README.md)' };
  const dir = mkdtempSync(join(tmpdir(), 'trainyard-gloo-'));
  try {
    const out = join(dir, 'gloo.json');
    const res = spawnSync(
      py,
      [
        GLOO_SCRIPT,
        '--world',
        ...args.worlds.map(String),
        '--elems',
        ...args.elems.map(String),
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 },
    );
    if (res.status !== 0)
      return { bw, note: `Gloo: failed (${res.stderr?.toString().trim().split('\n').pop()})` };
    const info = JSON.parse(readFileSync(out, 'utf8')) as {
      torch: string;
      rows: { world: number; elems: number; algbw_GBps: number }[];
    };
    for (const r of info.rows) bw.set(`${r.world}:${r.elems}`, r.algbw_GBps);
    return {
      bw,
      note: `Gloo: torch ${info.torch}, ${py} ../shared/bench/gloo_allreduce.py (median of 10 after 2 warm-ups)`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = process.env.REDIS_URL ? null : await startRedisServer();
  const url = process.env.REDIS_URL ?? (server?.url as string);
  const redis = createRedis(url, 'bench-raw');
  const started = Date.now();
  const rows: Row[] = [];
  let redisVersion = '?';
  try {
    redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
    // The raw baseline is measured before and after the all-reduces, and pooled, so that drift
    // in the machine's load during the run does not favour either side.
    const raw = new Map<string, number[]>();
    const measureRaw = async () => {
      for (const elems of args.elems) {
        for (const chunk of args.chunks) {
          const k = `${elems}:${chunk}`;
          raw.set(k, [
            ...(raw.get(k) ?? []),
            ...(await rawSetGetTimes(redis, elems, chunk, Math.ceil(args.iters / 2))),
          ]);
        }
      }
    };
    await measureRaw();
    const times = new Map<number, Map<string, number[]>>();
    for (const world of args.worlds) times.set(world, await runWorld(url, args, world));
    await measureRaw();
    for (const world of args.worlds) {
      for (const elems of args.elems) {
        for (const chunk of args.chunks) {
          const ts = times.get(world)?.get(`${elems}:${chunk}`) ?? [];
          const med = median(ts);
          const algbw = (elems * 4) / med / 1e9;
          const rawBw = (elems * 4) / median(raw.get(`${elems}:${chunk}`) ?? []) / 1e9;
          rows.push({
            world,
            elems,
            chunk,
            bytes: elems * 4,
            iters: ts.length,
            medianS: med,
            minS: Math.min(...ts),
            maxS: Math.max(...ts),
            algbwGBps: algbw,
            busbwGBps: (algbw * 2 * (world - 1)) / world,
            rawSetGetGBps: rawBw,
            ratioToRaw: algbw / rawBw,
            glooAlgbwGBps: null,
            ratioToGloo: null,
          });
        }
      }
    }
  } finally {
    await closeRedis(redis);
    await server?.stop();
  }
  const glooStarted = Date.now();
  const gloo = runGloo(args);
  for (const row of rows) {
    const g = gloo.bw.get(`${row.world}:${row.elems}`);
    if (g !== undefined) {
      row.glooAlgbwGBps = g;
      row.ratioToGloo = row.algbwGBps / g;
    }
  }
  const env = {
    node: process.version,
    redis: redisVersion,
    cpus: cpus().length,
    chunks: args.chunks,
    warmup: WARMUP,
    iters: args.iters,
    redisSeconds: Math.round((glooStarted - started) / 1000),
    glooSeconds: Math.round((Date.now() - glooStarted) / 1000),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ env, gloo: gloo.note, rows }, null, 1)}\n`);
    return;
  }
  const f = (x: number | null, d = 3) => (x === null ? '-' : x.toFixed(d));
  const head = [
    'W',
    'elems',
    'chunk',
    'MB',
    'iters',
    'median ms',
    'algbw GB/s',
    'busbw GB/s',
    'raw SET+GET GB/s',
    'alg/raw',
    'Gloo algbw',
    'ours/Gloo',
  ];
  const lines = rows.map((r) => [
    String(r.world),
    String(r.elems),
    String(r.chunk),
    (r.bytes / 1e6).toFixed(1),
    String(r.iters),
    (r.medianS * 1e3).toFixed(1),
    f(r.algbwGBps),
    f(r.busbwGBps),
    f(r.rawSetGetGBps),
    f(r.ratioToRaw, 2),
    f(r.glooAlgbwGBps),
    f(r.ratioToGloo, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] as number)).join('  ');
  console.log(
    `all-reduce (mean) over Redis ${env.redis}, node ${env.node}, ${env.cpus} CPUs; ${WARMUP} warm-ups, ` +
      `median of ${args.iters} iterations, each the max over ranks; raw = one client SET then GET of the same bytes`,
  );
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
  console.log(gloo.note);
  console.log(`took ${env.redisSeconds} s (Redis) + ${env.glooSeconds} s (Gloo)`);
}

await main();
