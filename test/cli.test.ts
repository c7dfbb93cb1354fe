import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { JobRecord } from '@trainyard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../services/api/src/app.js';
import { type ApiFixture, apiFixture, validSpec } from '../services/api/src/test-support.js';

/**
 * Proves the `trainyard` CLI end to end: the CLI runs as a real child process
 * (`node --import tsx packages/cli/src/main.ts`, and once through its bin file) against a
 * real api listening on a real port, on the test run's redis-server (no scheduler, so
 * jobs stay QUEUED until cancelled). It checks what a user sees: ids and JSON on stdout,
 * the api's error codes on stderr, and the exit codes (0 ok, 1 error, 2 usage, 4 a
 * followed job was cancelled), with API keys off and on.
 */

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = 'packages/cli/src/main.ts';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface CliRun {
  readonly child: ReturnType<typeof spawn>;
  /** Resolves once stdout holds `text`. */
  stdoutHas(text: string): Promise<void>;
  readonly done: Promise<CliResult>;
}

/** Starts the CLI as a child process (async: the api answering it runs in this process). */
function startCli(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; stdin?: string; entry?: string[] } = {},
): CliRun {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [...(options.entry ?? ['--import', 'tsx', MAIN]), ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of waiters.splice(0)) {
      if (stdout.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(options.stdin ?? '');
  const done = new Promise<CliResult>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
  });
  return {
    child,
    done,
    stdoutHas: (text) =>
      stdout.includes(text)
        ? Promise.resolve()
        : new Promise<void>((res, rej) => {
            waiters.push({ text, resolve: res });
            void done.then((r) =>
              rej(new Error(`CLI exited ${r.code} before printing ${text}: ${r.stderr}`)),
            );
          }),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'trainyard-cli-'));
const specFile = join(dir, 'job.json');
writeFileSync(specFile, JSON.stringify(validSpec()));
const badSpecFile = join(dir, 'bad.json');
writeFileSync(badSpecFile, JSON.stringify({ ...validSpec(), workers: 0, batchSize: 'big' }));

async function listeningApi(overrides: Partial<ApiDeps> = {}): Promise<{ fx: ApiFixture; url: string }> {
  const fx = await apiFixture({ sseBlockMs: 200, ...overrides });
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = fx.app.server.address() as AddressInfo;
  return { fx, url: `http://127.0.0.1:${port}` };
}

/** A port on loopback where nothing listens (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const JOB_ID = /^job-[0-9a-f-]{36}$/;

describe('trainyard CLI, api without keys', () => {
  let fx: ApiFixture;
  let url: string;
  const cli = (args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}) =>
    startCli(args, {
      ...options,
      env: { TRAINYARD_API_URL: url, TRAINYARD_API_KEY: undefined, ...options.env },
    }).done;

  beforeAll(async () => {
    ({ fx, url } = await listeningApi());
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('submit prints an id; get shows it QUEUED; list lists it; cancel cancels it', async () => {
    const submitted = await cli(['submit', specFile]);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(JOB_ID);

    const got = await cli(['get', id]);
    expect(got.code).toBe(0);
    const record = JSON.parse(got.stdout) as JobRecord;
    expect(record).toMatchObject({ id, state: 'QUEUED', spec: { name: 'mnist-mlp', workers: 2 } });
    const listed = await cli(['list', '--state', 'QUEUED']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+NAME\s+PROGRESS\s+CREATED$/);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+QUEUED\\s+mnist-mlp\\s+-\\s+\\d{4}-`, 'm'));

    const cancelled = await cli(['cancel', id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${id} CANCELLED\n` });
    expect((await fx.store.mustGet(id)).state).toBe('CANCELLED');
  });

  it('submit - reads stdin and sends --idempotency-key (a replay returns the first job)', async () => {
    const spec = { ...validSpec(), name: 'from-stdin' };
    const first = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'cli-test-1' },
      body: JSON.stringify(spec),
    });
    expect(first.status).toBe(201);
    const job = (await first.json()) as JobRecord;
    const again = await cli(['submit', '-', '--idempotency-key=cli-test-1'], { stdin: JSON.stringify(spec) });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${job.id}\n`);
    expect(again.stderr).toBe(
      `trainyard: idempotent replay: this key already submitted ${job.id} (QUEUED)\n`,
    );
  });

  it('a bad spec exits 1 with the api error code and every issue on stderr, and creates nothing', async () => {
    const before = await fx.counts();
    const res = await cli(['submit', badSpecFile]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^trainyard: TRAINYARD_ERR_SPEC_INVALID: The job spec is invalid/);
    expect(res.stderr).toMatch(/^ {2}workers: /m);
    expect(res.stderr).toMatch(/^ {2}batchSize: /m);
    expect(await fx.counts()).toEqual(before);
  });

  it('an api error exits 1 with its code and message on stderr', async () => {
    const res = await cli(['get', 'job-does-not-exist']);
    expect(res).toMatchObject({ code: 1, stdout: '' });
    expect(res.stderr).toBe('trainyard: TRAINYARD_ERR_JOB_NOT_FOUND: no job has id job-does-not-exist\n');
  });

  it('watch follows the event stream and ends with exit 4 when the job is cancelled', async () => {
    const created = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(validSpec()),
    });
    const job = (await created.json()) as JobRecord;
    const watch = startCli(['watch', job.id], {
      env: { TRAINYARD_API_URL: url, TRAINYARD_API_KEY: undefined },
    });
    await watch.stdoutHas('QUEUED (generation 0)');
    await fx.store.appendEvent(job.id, {
      type: 'log',
      ts: new Date().toISOString(),
      generation: 0,
      level: 'info',
      message: 'hello\nfrom the test',
    });
    const ts = new Date().toISOString();
    await fx.store.appendEvent(job.id, {
      type: 'progress',
      ts,
      generation: 0,
      progress: {
        epoch: 0,
        epochs: 2,
        step: 10,
        totalSteps: 30,
        samples: 640,
        loss: 1.23456,
        samplesPerSec: 812.54,
        etaSeconds: 75,
      },
    });
    await fx.store.appendEvent(job.id, {
      type: 'checkpoint',
      ts,
      generation: 0,
      checkpoint: {
        step: 10,
        epoch: 0,
        manifestKey: `checkpoints/${job.id}/0000000010/manifest.json`,
        manifestSha256: 'ab'.repeat(32),
        bytes: 2048,
        createdAt: ts,
      },
    });
    await watch.stdoutHas('checkpoint');
    const cancel = await fetch(`${url}/v1/jobs/${job.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    const res = await watch.done;
    expect(res.stderr).toBe('');
    expect(res.code).toBe(4);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3}Z {2}state {7}QUEUED \(generation 0\)$/);
    expect(lines[1]).toMatch(/ {2}log {9}\[info\] hello ⏎ from the test$/);
    expect(lines[2]).toMatch(
      / {2}progress {4}epoch 1\/2 {2}step 10\/30 {2}loss 1\.2346 {2}640 samples {2}812\.5 samples\/s {2}eta 1m15s$/,
    );
    expect(lines[3]).toMatch(
      / {2}checkpoint {2}step 10 \(epoch 1\), 2\.0 KiB, checkpoints\/job-.*\/0000000010\/manifest\.json$/,
    );
    expect(lines[4]).toMatch(/ {2}state {7}CANCELLED \(generation 0\): cancelled by request$/);
    expect(lines[5]).toBe(`job ${job.id} CANCELLED`);
    expect(lines).toHaveLength(6);
  });

  // Every other usage error and --help is checked in-process (packages/cli/src/cli.test.ts).
  it('an unknown command exits 2 with the usage text', async () => {
    const res = await cli(['frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      /^trainyard: unknown command 'frobnicate'\n\nUsage: trainyard [\s\S]*Commands:/,
    );
  });

  it('an unreachable api exits 1 naming its URL', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const res = await startCli(['list'], { env: { TRAINYARD_API_URL: `${dead}/` } }).done;
    expect(res).toMatchObject({ code: 1, stdout: '' });
    expect(res.stderr).toContain(`cannot reach the api at ${dead}: ECONNREFUSED`);
  });

  it('the bin file runs the CLI (tsx registered by bin/trainyard.mjs)', async () => {
    const res = await startCli(['workers', '--json', '--api-url', url], {
      entry: ['packages/cli/bin/trainyard.mjs'],
    }).done;
    expect(res).toMatchObject({ code: 0, stdout: '[]\n' }); // no worker runs in this test
  });
});

describe('trainyard CLI, api with API keys', () => {
  const KEY = 'cli-test-key-0123456789';
  let fx: ApiFixture;
  let url: string;

  beforeAll(async () => {
    ({ fx, url } = await listeningApi({ apiKeys: [KEY] }));
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('without a key, or with a wrong one, exits 1 with TRAINYARD_ERR_UNAUTHENTICATED', async () => {
    const [none, wrong] = await Promise.all([
      startCli(['list'], { env: { TRAINYARD_API_URL: url, TRAINYARD_API_KEY: undefined } }).done,
      startCli(['submit', specFile, '--api-key', 'not-the-key-0123456789'], {
        env: { TRAINYARD_API_URL: url, TRAINYARD_API_KEY: undefined },
      }).done,
    ]);
    for (const res of [none, wrong]) {
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/^trainyard: TRAINYARD_ERR_UNAUTHENTICATED: /);
      expect(res.stderr).toMatch(/set TRAINYARD_API_KEY/);
    }
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it('with TRAINYARD_API_KEY it works: submit, and logs (the event stream)', async () => {
    const env = { TRAINYARD_API_URL: url, TRAINYARD_API_KEY: KEY };
    const submitted = await startCli(['submit', specFile], { env }).done;
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(JOB_ID);
    const cancel = await fetch(`${url}/v1/jobs/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(cancel.status).toBe(200);
    // `logs` (alias of watch) replays the ended job's stream and exits with its outcome.
    const logs = await startCli(['logs', '--json', id], { env }).done;
    expect(logs.code).toBe(4);
    const states = logs.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { state?: string }).state);
    expect(states).toEqual(['QUEUED', 'CANCELLED']);
  });
});
