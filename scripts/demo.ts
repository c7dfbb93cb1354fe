/**
 * The demo: the main job, end to end. Starts a local cluster (Redis, api, scheduler, two
 * worker processes), then acts as any client would, over HTTP: submits the MNIST CNN job
 * (or the MLP), shows live progress from the job's event stream, and prints the final
 * record. Exits 0 only when the job SUCCEEDED with test accuracy at or above the model's bar
 * (CNN 0.95, MLP 0.93).
 *
 *   npm run demo                      # everything set up and started for you
 *   DEMO_MODEL=mlp npm run demo       # the MLP 784-256-128-10 instead of the CNN
 *   DEMO_EPOCHS=1 npm run demo        # a shorter run
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobEvent, JobRecord } from '@trainyard/core';
import { type LocalCluster, readSse, startLocalCluster, tailLog } from '@trainyard/devkit';

const workers = Number(process.env.DEMO_WORKERS ?? 2);
const epochs = Number(process.env.DEMO_EPOCHS ?? 5);
const MODELS = {
  cnn: {
    bar: 0.95,
    title: 'CNN conv3x3x16-pool-conv3x3x32-pool-dense64-10',
    spec: {
      family: 'cnn',
      conv: [
        { filters: 16, kernelSize: 3, pool: 2 },
        { filters: 32, kernelSize: 3, pool: 2 },
      ],
      dense: [64],
    },
  },
  mlp: {
    bar: 0.93,
    title: 'MLP 784-256-128-10',
    spec: { family: 'mlp', hidden: [256, 128], activation: 'relu' },
  },
} as const;
const modelName = (process.env.DEMO_MODEL ?? 'cnn') as keyof typeof MODELS;
if (!(modelName in MODELS)) {
  console.error(
    `DEMO_MODEL must be one of ${Object.keys(MODELS).join(', ')} (got ${JSON.stringify(modelName)})`,
  );
  process.exit(2);
}
const model = MODELS[modelName];
const ACCURACY_BAR = model.bar;

const spec = {
  name: `mnist-${modelName}-demo`,
  model: model.spec,
  dataset: { name: 'mnist', trainSize: 8000, testSize: 2000, splitSeed: 1 },
  workers,
  batchSize: 64,
  optimizer: { name: 'adam', learningRate: 0.001 },
  epochs,
  seed: 42,
  checkpoint: { everySteps: 100 },
};

const tty = process.stdout.isTTY;
const say = (line: string) => process.stdout.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
let cluster: LocalCluster | null = null;
let exiting: Promise<never> | null = null;

/** Stops the cluster once and exits; a second call (e.g. the stream breaking while the cluster stops) waits for the first. */
function shutdown(code: number, why?: string): Promise<never> {
  exiting ??= (async () => {
    if (why) say(why);
    if (cluster) {
      say('stopping the local cluster ...');
      await cluster.stop();
    }
    process.exit(code);
  })();
  return exiting;
}

process.on('SIGINT', () => void shutdown(130, '\ninterrupted: stopping every process the demo started'));
process.on('SIGTERM', () => void shutdown(143));

async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(`${cluster!.apiUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  say(`Starting a local Trainyard: redis-server, api, scheduler and ${workers} worker processes ...`);
  cluster = await startLocalCluster({
    workers,
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
  });
  say(`  api at     ${cluster.apiUrl}   (redis at ${cluster.redisUrl})`);
  for (const s of cluster.services) say(`  ${s.name.padEnd(10)} pid ${s.child.pid}   log ${s.logFile}`);
  say(`  ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  const started = Date.now();
  const submitted = await api<JobRecord>('POST', '/v1/jobs', spec, {
    'idempotency-key': `demo-${process.pid}-${started}`,
  });
  say(
    `Submitted job ${submitted.id}: ${model.title} on MNIST (8,000 train / 2,000 test), ${workers} workers,`,
  );
  say(
    `  global batch 64, Adam 1e-3, ${epochs} epochs, checkpoint every 100 steps, seed 42. State: ${submitted.state}\n`,
  );

  let lastLine = 0;
  await readSse(`${cluster.apiUrl}/v1/jobs/${submitted.id}/events`, (msg) => {
    const event = JSON.parse(msg.data) as JobEvent;
    if (event.type === 'state') {
      say(`  ${event.ts.slice(11, 19)}  state -> ${event.state}${event.reason ? ` (${event.reason})` : ''}`);
    } else if (event.type === 'checkpoint') {
      if (!tty) say(`  checkpoint at step ${event.checkpoint.step}: ${event.checkpoint.manifestKey}`);
    } else if (event.type === 'progress') {
      const p = event.progress;
      const line =
        `  epoch ${p.epoch + 1}/${p.epochs}  step ${String(p.step).padStart(4)}/${p.totalSteps} ${bar(p.step / p.totalSteps)}` +
        `  loss ${p.loss.toFixed(4)}  ${Math.round(p.samplesPerSec)} samples/s  ETA ${Math.ceil(p.etaSeconds)} s`;
      if (tty) process.stdout.write(`\r\x1b[K${line}`);
      else if (Date.now() - lastLine > 3000 || p.step === p.totalSteps) {
        lastLine = Date.now();
        say(line);
      }
    }
  });
  if (tty) process.stdout.write('\n');

  const job = await api<JobRecord>('GET', `/v1/jobs/${submitted.id}`);
  const seconds = (Date.now() - started) / 1000;
  say(`\nFinal record of ${job.id} (${seconds.toFixed(1)} s from submission):`);
  say(`  state        ${job.state}   generation ${job.generation}`);
  say(`  placement    ${(job.placement ?? []).map((p) => `rank ${p.rank} -> ${p.workerId}`).join(', ')}`);
  if (job.backends)
    say(
      `  backends     ${Object.entries(job.backends)
        .map(([r, b]) => `rank ${r}: ${b.name} ${b.version}`)
        .join(', ')}`,
    );
  if (job.error) say(`  error        ${job.error.code}: ${job.error.message}`);
  const e = job.evaluation;
  if (e) {
    say(`  test set     ${e.samples} held-out digits, loss ${e.loss.toFixed(4)}`);
    say(`  accuracy     ${e.accuracy.toFixed(4)}`);
    say(`  precision    ${e.precisionMacro.toFixed(4)} (macro)`);
    say(`  recall       ${e.recallMacro.toFixed(4)} (macro)`);
    say(`  F1           ${e.f1Macro.toFixed(4)} (macro)`);
  }
  say(`  checkpoints  ${job.checkpoints.length} in ${cluster.storeDir}`);
  for (const c of job.checkpoints) {
    say(
      `    step ${String(c.step).padStart(4)}  epoch ${c.epoch + 1}  ${c.manifestKey}  ${c.bytes} bytes  manifest sha256 ${c.manifestSha256.slice(0, 16)}…`,
    );
  }
  const latest = job.checkpoints.at(-1);
  if (latest) {
    const manifest = JSON.parse(readFileSync(join(cluster.storeDir, latest.manifestKey), 'utf8')) as {
      files: { name: string; bytes: number; sha256: string }[];
      meta: Record<string, unknown>;
    };
    say(`  manifest of step ${latest.step} (written last, after its files):`);
    for (const f of manifest.files)
      say(`    ${f.name.padEnd(14)} ${String(f.bytes).padStart(9)} bytes  sha256 ${f.sha256}`);
    say(`    meta: ${JSON.stringify(manifest.meta)}`);
  }
  say('  metrics (Prometheus text; these processes stop when the demo exits):');
  for (const s of cluster.services) say(`    ${s.name.padEnd(10)} ${s.metricsUrl}`);
  const steps = await fetch(cluster.services.find((s) => s.name === 'worker-0')!.metricsUrl)
    .then((r) => r.text())
    .then((t) => /^trainyard_worker_steps_total(?:\{[^}]*\})? (\d+)/m.exec(t)?.[1])
    .catch(() => undefined);
  if (steps) say(`    worker-0 reports trainyard_worker_steps_total ${steps}`);

  if (job.state !== 'SUCCEEDED') {
    for (const s of cluster.services) say(`--- last lines of ${s.name}'s log ---\n${tailLog(s.logFile, 8)}`);
    return shutdown(1, `\nFAIL: the job ended ${job.state}, not SUCCEEDED`);
  }
  if (!e || e.accuracy < ACCURACY_BAR) {
    return shutdown(1, `\nFAIL: test accuracy ${e?.accuracy.toFixed(4)} is below the bar of ${ACCURACY_BAR}`);
  }
  return shutdown(
    0,
    `\nOK: SUCCEEDED with test accuracy ${e.accuracy.toFixed(4)} >= ${ACCURACY_BAR} in ${seconds.toFixed(1)} s`,
  );
}

main().catch((err: unknown) => void shutdown(1, `\nFAIL: ${(err as Error).stack ?? String(err)}`));
