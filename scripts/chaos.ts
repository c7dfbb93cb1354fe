/**
 * Chaos: runs training jobs on a local cluster and injects one fault into each while it
 * runs — a worker SIGKILLed, frozen (SIGSTOP, woken later) or drained (SIGTERM), the scheduler
 * SIGKILLed, the api SIGKILLed — then checks every job: it must SUCCEED with the very
 * weights (bit for bit) of an uninterrupted run of the same spec. Prints faults injected,
 * faults survived, and jobs with a wrong or missing result. RELIABILITY.md records a run.
 *
 *   npm run chaos                      # 10 rounds
 *   npm run chaos -- --rounds 25 --seed 7
 */
import { parseArgs } from 'node:util';
import { type JobEvent, type JobRecord, SeededRandom } from '@trainyard/core';
import { type LocalCluster, readSse, startLocalCluster } from '@trainyard/devkit';
import { decodeNamedArrays } from '@trainyard/models';
import { FsObjectStore, readCheckpoint } from '@trainyard/storage';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } },
});
const rounds = Number(values.rounds);
const rng = new SeededRandom(Number(values.seed));
const FAULTS = [
  'worker SIGKILL',
  'worker SIGSTOP',
  'worker SIGTERM',
  'scheduler SIGKILL',
  'api SIGKILL',
] as const;
type Fault = (typeof FAULTS)[number];

const spec = {
  model: { family: 'mlp', hidden: [64] },
  dataset: { name: 'mnist', trainSize: 4800, testSize: 200, splitSeed: 9 },
  workers: 3,
  batchSize: 48,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs: 2,
  seed: 5,
  checkpoint: { everySteps: 10 },
  maxRestarts: 3,
  collective: { timeoutMs: 20_000 },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let cluster: LocalCluster;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${cluster.apiUrl}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    } catch (err) {
      if (attempt >= 50) throw err;
      await sleep(200); // the api may be restarting
    }
  }
}

async function waitTerminal(id: string, deadline: number): Promise<JobRecord | null> {
  while (Date.now() < deadline) {
    const job = await api<JobRecord>('GET', `/v1/jobs/${id}`);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) return job;
    await sleep(250);
  }
  return null;
}

async function weights(job: JobRecord): Promise<Buffer> {
  const { files } = await readCheckpoint(
    new FsObjectStore(cluster.storeDir),
    job.checkpoints.at(-1)!.manifestKey,
  );
  return Buffer.from(decodeNamedArrays(files['weights.bin']!).data.buffer);
}

async function ensureWorkers(): Promise<void> {
  for (const s of cluster.services) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) await cluster.respawn(s.name);
  }
}

async function main(): Promise<void> {
  console.log(`chaos: ${rounds} rounds, seed ${values.seed}; starting a local cluster with 5 workers ...`);
  cluster = await startLocalCluster({
    workers: 5,
    env: { HEARTBEAT_MS: '500', HEARTBEAT_TTL_MS: '2000', SCHEDULER_TICK_MS: '250', LOG_LEVEL: 'warn' },
  });
  const reference = await api<JobRecord>('POST', '/v1/jobs', spec);
  const refDone = await waitTerminal(reference.id, Date.now() + 180_000);
  if (refDone?.state !== 'SUCCEEDED')
    throw new Error(`the uninterrupted reference run ended ${refDone?.state}`);
  const expected = await weights(refDone);
  console.log(`reference run ${reference.id}: SUCCEEDED, ${expected.length} weight bytes\n`);

  const tally = { injected: 0, survived: 0, wrong: 0, missing: 0 };
  const byFault = new Map<Fault, { injected: number; survived: number }>();
  for (let round = 1; round <= rounds; round++) {
    await ensureWorkers();
    const fault = FAULTS[(round - 1) % FAULTS.length]!;
    const victimRank = rng.nextInt(3);
    const trigger = 10 * (1 + rng.nextInt(15));
    const job = await api<JobRecord>('POST', '/v1/jobs', spec);
    let injected = false;
    let wake: (() => void) | null = null;
    const t0 = Date.now();
    await readSse(`${cluster.apiUrl}/v1/jobs/${job.id}/events`, async (msg) => {
      const event = JSON.parse(msg.data) as JobEvent;
      if (event.type === 'state' && event.state === 'RESTARTING' && wake) {
        setTimeout(wake, 1000);
        wake = null;
      }
      if (injected || event.type !== 'checkpoint' || event.checkpoint.step < trigger) return;
      injected = true;
      const record = await api<JobRecord>('GET', `/v1/jobs/${job.id}`);
      if (fault.startsWith('worker')) {
        const workerId = record.placement!.find((p) => p.rank === victimRank)!.workerId;
        const service = cluster.services.find((s) => s.name === `worker-${workerId.split('-').at(-1)}`)!;
        const signal = fault.split(' ')[1] as NodeJS.Signals;
        service.child.kill(signal);
        if (signal === 'SIGSTOP') wake = () => service.child.kill('SIGCONT');
      } else {
        const name = fault.split(' ')[0]!;
        cluster.services.find((s) => s.name === name)!.child.kill('SIGKILL');
        // Back after 1.5 s, unless the next round's ensureWorkers() got there first.
        setTimeout(() => void cluster.respawn(name).catch(() => {}), 1500);
      }
    }).catch(() => {}); // the stream breaks when the api is killed; the record is polled below
    const done = await waitTerminal(job.id, t0 + 180_000);
    const stats = byFault.get(fault) ?? { injected: 0, survived: 0 };
    if (injected) {
      tally.injected++;
      stats.injected++;
    }
    let verdict: string;
    const succeeded = done?.state === 'SUCCEEDED' ? done : null;
    if (!succeeded) {
      tally.missing++;
      verdict = `MISSING (${done?.state ?? 'no end within 180 s'}${done?.error ? `: ${done.error.message}` : ''})`;
    } else if (!(await weights(succeeded)).equals(expected)) {
      tally.wrong++;
      verdict = 'WRONG (weights differ from the uninterrupted run)';
    } else {
      if (injected) {
        tally.survived++;
        stats.survived++;
      }
      verdict = 'ok, bit-equal';
    }
    byFault.set(fault, stats);
    console.log(
      `round ${String(round).padStart(2)}  ${fault.padEnd(18)} rank ${victimRank} after step ${String(trigger).padStart(3)}` +
        `  ${injected ? 'injected' : 'NOT injected (job ended first)'}  generations ${done?.generation ?? '?'}` +
        `  ${((Date.now() - t0) / 1000).toFixed(1)} s  ${verdict}`,
    );
  }
  console.log('\nby fault:');
  for (const [fault, s] of byFault)
    console.log(`  ${fault.padEnd(18)} injected ${s.injected}, survived ${s.survived}`);
  console.log(
    `\nfaults injected ${tally.injected}, faults survived ${tally.survived}, jobs with a wrong result ${tally.wrong}, ` +
      `jobs with a missing result ${tally.missing}`,
  );
  await cluster.stop();
  process.exit(tally.wrong + tally.missing === 0 && tally.survived === tally.injected ? 0 : 1);
}

process.on('SIGINT', () => void cluster?.stop().then(() => process.exit(130)));
// Whatever goes wrong, stop every process this run started.
process.on('unhandledRejection', (err) => {
  console.error(`chaos failed: ${(err as Error)?.stack ?? String(err)}`);
  void cluster?.stop().then(() => process.exit(1));
});
main().catch(async (err: unknown) => {
  console.error(`chaos failed: ${(err as Error).stack ?? String(err)}`);
  await cluster?.stop();
  process.exit(1);
});
