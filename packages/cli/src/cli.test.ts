import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliIo, run } from './cli.js';

/**
 * Proves the CLI's behaviour in-process, with a scripted fetch standing in for the api
 * (test/cli.test.ts runs the real thing as a child process against a real api): usage
 * errors and help, the API key and URL it sends, how it reports api, proxy and local
 * errors, its tables, and how `watch` resumes a stream that ends early or breaks.
 */

type Step = (url: string, init: RequestInit) => Response | Promise<Response>;

/** A fetch that answers each call with the next step, recording every call. */
function scriptedFetch(steps: Step[]) {
  const calls: { url: string; headers: Record<string, string>; method: string; body?: string }[] = [];
  const fn = async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = String(input);
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    });
    const step = steps.shift();
    if (!step) throw new Error(`unexpected fetch ${url}`);
    return step(url, init);
  };
  return { fetch: fn as typeof fetch, calls, left: () => steps.length };
}

const json =
  (body: unknown, status = 200) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const sse = (text: string) => () => new Response(text, { headers: { 'content-type': 'text/event-stream' } });
const refused: Step = () => {
  throw new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
  });
};

function harness(options: { fetch?: typeof fetch; env?: Record<string, string>; stdin?: string } = {}) {
  let out = '';
  let err = '';
  const io: CliIo = {
    env: options.env ?? {},
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    stdin: (async function* () {
      yield options.stdin ?? '';
    })(),
    fetch: options.fetch ?? (refused as unknown as typeof fetch),
    reconnectDelayMs: 1,
  };
  return { io, out: () => out, err: () => err };
}

const state = (id: string, s: string, extra = '') =>
  `id: ${id}\nevent: state\ndata: {"type":"state","ts":"2026-12-03T16:51:28.774Z","state":"${s}","generation":1${extra}}\n\n`;

describe('usage', () => {
  it.each([
    [[], /^trainyard: no command given\n\nUsage: trainyard /],
    [['get'], /^trainyard: get: missing <id>\n\nUsage: trainyard get <id>/],
    [['cancel', 'a', 'b'], /^trainyard: cancel: unexpected argument 'b'\n\nUsage: trainyard cancel/],
    [['list', '--colour'], /^trainyard: Unknown option '--colour'[\s\S]*Usage: trainyard list/],
    [
      ['submit', 'x.json', '--idempotency-key'],
      /^trainyard: Option '--idempotency-key <value>' argument missing/,
    ],
    [['help', 'nope'], /^trainyard: no such command: nope/],
    [['list', '--api-url', 'ftp://host'], /^trainyard: --api-url: must be an http:\/\/ or https:\/\/ URL/],
    [
      ['list', '--api-url', 'localhost:8080'],
      /^trainyard: --api-url: must be an http:\/\/ or https:\/\/ URL/,
    ],
    [['list', '--api-url', 'not a url'], /^trainyard: --api-url: not a URL/],
    [
      ['list', '--api-url', 'http://me:s3cret@host:8080'],
      /^trainyard: --api-url: must not carry a user or password/,
    ],
    [
      ['list', '--api-key', 'bad key\n'],
      /^trainyard: the API key \(--api-key or TRAINYARD_API_KEY\) may hold only/,
    ],
  ])('%j exits 2 with usage on stderr, calling nothing', async (argv, message) => {
    const api = scriptedFetch([]);
    const h = harness({ fetch: api.fetch });
    expect(await run(argv, h.io)).toBe(2);
    expect(h.err()).toMatch(message);
    expect(h.out()).toBe('');
    expect(api.calls).toEqual([]);
  });

  it.each([
    [['--help'], /^Usage: trainyard \[options\] <command>[\s\S]*submit <spec\.json\|->[\s\S]*Exit codes/],
    [['-h'], /^Usage: trainyard \[options\]/],
    [['help'], /^Usage: trainyard \[options\]/],
    [['help', 'logs'], /^Usage: trainyard watch \[--json\] <id>/],
    [['submit', '--help'], /^Usage: trainyard submit[\s\S]*--wait[\s\S]*--idempotency-key KEY/],
    [['--api-url', 'http://x:1', 'list', '-h'], /^Usage: trainyard list[\s\S]*--state STATE/],
    [['--version'], /^0\.1\.0\n$/],
  ])('%j prints help on stdout and exits 0', async (argv, text) => {
    const h = harness();
    expect(await run(argv, h.io)).toBe(0);
    expect(h.out()).toMatch(text);
    expect(h.err()).toBe('');
  });
});

describe('requests', () => {
  it('sends the key from TRAINYARD_API_KEY, --api-key over it, and none when unset', async () => {
    const jobs = json({ jobs: [] });
    const api = scriptedFetch([jobs, jobs, jobs]);
    const env = {
      TRAINYARD_API_URL: 'https://api.example/trainyard/',
      TRAINYARD_API_KEY: 'env-key-0123456789',
    };
    expect(await run(['list'], harness({ fetch: api.fetch, env }).io)).toBe(0);
    expect(
      await run(['list', '--api-key', 'flag-key-0123456789'], harness({ fetch: api.fetch, env }).io),
    ).toBe(0);
    expect(await run(['--api-url', 'http://h:9/', 'list'], harness({ fetch: api.fetch }).io)).toBe(0);
    expect(api.calls.map((c) => [c.url, c.headers.authorization])).toEqual([
      ['https://api.example/trainyard/v1/jobs', 'Bearer env-key-0123456789'],
      ['https://api.example/trainyard/v1/jobs', 'Bearer flag-key-0123456789'],
      ['http://h:9/v1/jobs', undefined],
    ]);
  });

  it('submit sends the spec and the Idempotency-Key; list passes --state and --limit', async () => {
    const api = scriptedFetch([json({ id: 'job-1', state: 'QUEUED' }, 201), json({ jobs: [] })]);
    const h = harness({ fetch: api.fetch, stdin: '{"epochs": 1}' });
    expect(await run(['submit', '-', '--idempotency-key', 'k 1'], h.io)).toBe(0);
    expect(h.out()).toBe('job-1\n');
    expect(await run(['list', '--state', 'RUNNING', '--limit', '5'], h.io)).toBe(0);
    expect(h.err()).toBe('no jobs\n');
    expect(api.calls[0]).toMatchObject({
      url: 'http://127.0.0.1:8080/v1/jobs',
      method: 'POST',
      body: '{"epochs":1}',
      headers: { 'Idempotency-Key': 'k 1', 'content-type': 'application/json' },
    });
    expect(api.calls[1]!.url).toBe('http://127.0.0.1:8080/v1/jobs?state=RUNNING&limit=5');
  });

  it('encodes job ids in paths', async () => {
    const api = scriptedFetch([json({ id: 'x', state: 'CANCELLED' })]);
    expect(await run(['cancel', '../workers'], harness({ fetch: api.fetch }).io)).toBe(0);
    expect(api.calls[0]!.url).toBe('http://127.0.0.1:8080/v1/jobs/..%2Fworkers/cancel');
  });

  it('prints tables for list and workers', async () => {
    const job = {
      id: 'job-a',
      state: 'RUNNING',
      spec: { name: 'mnist' },
      progress: { epoch: 1, epochs: 5, step: 300, totalSteps: 625 },
      createdAt: '2026-12-03T16:51:28.774Z',
    };
    const worker = {
      workerId: 'w-0',
      state: 'busy',
      backend: { name: 'tensorflow', gpu: 'H200' },
      slots: 1,
      running: 'job-a:1:0',
      lastHeartbeat: '2026-12-03T16:58:40.004Z',
    };
    const api = scriptedFetch([json({ jobs: [job] }), json({ workers: [worker] })]);
    const h = harness({ fetch: api.fetch });
    expect(await run(['list'], h.io)).toBe(0);
    expect(await run(['workers'], h.io)).toBe(0);
    expect(h.out()).toBe(
      [
        'ID     STATE    NAME   PROGRESS                CREATED',
        'job-a  RUNNING  mnist  epoch 2/5 step 300/625  2026-12-03T16:51:28.774Z',
        'WORKER  STATE  BACKEND            SLOTS  RUNNING    LAST HEARTBEAT',
        'w-0     busy   tensorflow (H200)  1      job-a:1:0  2026-12-03T16:58:40.004Z',
        '',
      ].join('\n'),
    );
  });
});

describe('errors', () => {
  it('prints the api error code, message and every issue; exit 1', async () => {
    const body = {
      error: {
        code: 'TRAINYARD_ERR_SPEC_INVALID',
        message: 'The job spec is invalid: workers: Too small',
        retryable: false,
        issues: [
          { path: 'workers', message: 'Too small' },
          { path: '', message: 'unknown field' },
        ],
      },
    };
    const api = scriptedFetch([json(body, 400)]);
    const h = harness({ fetch: api.fetch, stdin: '{}' });
    expect(await run(['submit', '-'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'trainyard: TRAINYARD_ERR_SPEC_INVALID: The job spec is invalid: workers: Too small\n' +
        '  workers: Too small\n  (body): unknown field\n',
    );
    expect(h.out()).toBe('');
  });

  it('reports an answer that is not the api (a proxy) by its status', async () => {
    const api = scriptedFetch([
      () =>
        new Response('<html><body>502 Bad Gateway</body></html>', { status: 502, statusText: 'Bad Gateway' }),
    ]);
    const h = harness({ fetch: api.fetch, env: { TRAINYARD_API_URL: 'http://proxy:80' } });
    expect(await run(['get', 'job-1'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'trainyard: HTTP_502: the server at http://proxy:80 answered 502 Bad Gateway: <html><body>502 Bad Gateway</body></html>\n',
    );
  });

  it('names the URL when nothing answers', async () => {
    const h = harness({ env: { TRAINYARD_API_URL: 'http://10.0.0.9:8080' } });
    expect(await run(['workers'], h.io)).toBe(1);
    expect(h.err()).toMatch(/^trainyard: cannot reach the api at http:\/\/10\.0\.0\.9:8080: ECONNREFUSED/);
  });

  it('refuses a missing spec file and one that is not JSON before calling the api', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-cli-unit-'));
    writeFileSync(join(dir, 'bad.json'), '{"name": ');
    const api = scriptedFetch([]);
    const missing = harness({ fetch: api.fetch });
    expect(await run(['submit', join(dir, 'nope.json')], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/^trainyard: cannot read the spec .*nope\.json: no such file\n$/);
    const bad = harness({ fetch: api.fetch });
    expect(await run(['submit', 'bad.json'], { ...bad.io, cwd: dir })).toBe(1);
    expect(bad.err()).toMatch(/^trainyard: the spec in bad\.json is not valid JSON: /);
    expect(api.calls).toEqual([]);
  });
});

describe('watch and submit --wait', () => {
  it('resumes after the last event when the stream ends early or breaks, until the job ends', async () => {
    const progress =
      'id: 2-0\nevent: progress\ndata: {"type":"progress","ts":"2026-12-03T16:51:30.000Z","generation":1,' +
      '"progress":{"epoch":4,"epochs":5,"step":625,"totalSteps":625,"samples":40000,"loss":0.05,"samplesPerSec":900,"etaSeconds":0}}\n\n';
    const api = scriptedFetch([
      sse(`retry: 2000\n\n${state('1-0', 'RUNNING')}`), // ends without a terminal event
      json({ id: 'job-1', state: 'RUNNING' }), // still running: reconnect
      refused, // the api restarts
      sse(`${progress}: ping\n\n${state('3-0', 'SUCCEEDED')}`),
      json({
        id: 'job-1',
        state: 'SUCCEEDED',
        evaluation: { accuracy: 0.97123, loss: 0.0912, samples: 2000 },
      }),
    ]);
    const h = harness({ fetch: api.fetch, env: { TRAINYARD_API_KEY: 'k-0123456789abcdef' } });
    expect(await run(['watch', 'job-1'], h.io)).toBe(0);
    expect(api.left()).toBe(0);
    expect(api.calls.map((c) => c.url)).toEqual([
      'http://127.0.0.1:8080/v1/jobs/job-1/events',
      'http://127.0.0.1:8080/v1/jobs/job-1',
      'http://127.0.0.1:8080/v1/jobs/job-1/events?after=1-0',
      'http://127.0.0.1:8080/v1/jobs/job-1/events?after=1-0',
      'http://127.0.0.1:8080/v1/jobs/job-1',
    ]);
    expect(api.calls.every((c) => c.headers.authorization === 'Bearer k-0123456789abcdef')).toBe(true);
    expect(h.out()).toBe(
      [
        '16:51:28.774Z  state       RUNNING (generation 1)',
        '16:51:30.000Z  progress    epoch 5/5  step 625/625  loss 0.0500  40000 samples  900.0 samples/s  eta 0s',
        '16:51:28.774Z  state       SUCCEEDED (generation 1)',
        'job job-1 SUCCEEDED: test accuracy 0.9712, loss 0.0912 (2000 samples)',
        '',
      ].join('\n'),
    );
    expect(h.err()).toBe('');
  });

  it('drops a stream that goes silent (a half-open connection) and resumes it', async () => {
    // Sends one event, then nothing, without closing: what a dead NAT mapping looks like.
    const silent: Step = (_url, init) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(state('1-0', 'RUNNING')));
          init.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    };
    const api = scriptedFetch([
      silent,
      sse(state('2-0', 'SUCCEEDED')),
      json({ id: 'job-1', state: 'SUCCEEDED' }),
    ]);
    const h = harness({ fetch: api.fetch });
    const t0 = Date.now();
    expect(await run(['watch', 'job-1'], { ...h.io, streamIdleMs: 200 })).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(api.calls.map((c) => c.url)).toEqual([
      'http://127.0.0.1:8080/v1/jobs/job-1/events',
      'http://127.0.0.1:8080/v1/jobs/job-1/events?after=1-0',
      'http://127.0.0.1:8080/v1/jobs/job-1',
    ]);
  });

  it('waits out a 503 or 502 once the stream has worked, but not a 4xx', async () => {
    const unavailable = json(
      { error: { code: 'TRAINYARD_ERR_REDIS_UNAVAILABLE', message: 'Redis is down' } },
      503,
    );
    const badGateway = () => new Response('<html>502 Bad Gateway</html>', { status: 502 });
    const api = scriptedFetch([
      sse(state('1-0', 'RUNNING')),
      json({ id: 'job-1', state: 'RUNNING' }),
      unavailable, // Redis restarting
      badGateway, // a proxy during an api rollout
      sse(state('2-0', 'SUCCEEDED')),
      json({ id: 'job-1', state: 'SUCCEEDED' }),
    ]);
    const h = harness({ fetch: api.fetch });
    expect(await run(['watch', 'job-1'], h.io)).toBe(0);
    expect(api.left()).toBe(0);

    const notFound = scriptedFetch([
      sse(state('1-0', 'RUNNING')),
      json({ id: 'job-1', state: 'RUNNING' }),
      json({ error: { code: 'TRAINYARD_ERR_JOB_NOT_FOUND', message: 'No job has this id' } }, 404),
    ]);
    const h2 = harness({ fetch: notFound.fetch });
    expect(await run(['watch', 'job-1'], h2.io)).toBe(1);
    expect(h2.err()).toContain('TRAINYARD_ERR_JOB_NOT_FOUND');
  });

  it('ends with the job state when the stream ends and the job is over (exit 3 for FAILED)', async () => {
    const failed = {
      id: 'job-1',
      state: 'FAILED',
      error: { code: 'TRAINYARD_ERR_TRAINING_NONFINITE', message: 'loss is NaN' },
    };
    const api = scriptedFetch([sse(''), json(failed), json(failed)]);
    const h = harness({ fetch: api.fetch });
    expect(await run(['logs', 'job-1'], h.io)).toBe(3);
    expect(h.out()).toBe('job job-1 FAILED: TRAINYARD_ERR_TRAINING_NONFINITE: loss is NaN\n');
  });

  it('prints restarts and log lines, one line each', async () => {
    const api = scriptedFetch([
      sse(
        state('1-0', 'RESTARTING', ',"reason":"TRAINYARD_ERR_RANK_FAILED: worker w-1 lost"') +
          'id: 2-0\nevent: log\ndata: {"type":"log","ts":"2026-12-03T16:51:29.000Z","generation":2,"level":"warn","message":"a\\nb"}\n\n' +
          state('3-0', 'CANCELLED', ',"reason":"cancelled by request"'),
      ),
      json({ id: 'job-1', state: 'CANCELLED' }),
    ]);
    const h = harness({ fetch: api.fetch });
    expect(await run(['watch', 'job-1'], h.io)).toBe(4);
    expect(h.out().split('\n')).toEqual([
      '16:51:28.774Z  restart     RESTARTING (generation 1): TRAINYARD_ERR_RANK_FAILED: worker w-1 lost',
      '16:51:29.000Z  log         [warn] a ⏎ b',
      '16:51:28.774Z  state       CANCELLED (generation 1): cancelled by request',
      'job job-1 CANCELLED',
      '',
    ]);
  });

  it('fails at once when the first connection fails (no retry loop against a dead URL)', async () => {
    const api = scriptedFetch([refused]);
    const h = harness({ fetch: api.fetch });
    expect(await run(['watch', 'job-1'], h.io)).toBe(1);
    expect(api.calls).toHaveLength(1);
    expect(h.err()).toMatch(/cannot reach the api at http:\/\/127\.0\.0\.1:8080: ECONNREFUSED/);
  });

  it('submit --wait prints the id on stdout and the events on stderr', async () => {
    const api = scriptedFetch([
      json({ id: 'job-9', state: 'QUEUED' }, 201),
      sse(state('1-0', 'QUEUED') + state('2-0', 'FAILED', ',"reason":"boom"')),
      json({ id: 'job-9', state: 'FAILED', error: { code: 'TRAINYARD_ERR_INTERNAL', message: 'boom' } }),
    ]);
    const h = harness({ fetch: api.fetch, stdin: '{}' });
    expect(await run(['submit', '--wait', '-'], h.io)).toBe(3);
    expect(h.out()).toBe('job-9\n');
    expect(h.err()).toMatch(/QUEUED \(generation 1\)\n.*FAILED \(generation 1\): boom\njob job-9 FAILED: /);
    expect(api.calls[1]!.url).toBe('http://127.0.0.1:8080/v1/jobs/job-9/events');
  });
});
