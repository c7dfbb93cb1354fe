import { Writable } from 'node:stream';
import type { JobRecord } from '@trainyard/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiDeps } from './app.js';
import { ApiKeyVerifier } from './auth.js';
import type { ErrorBody } from './error-handler.js';
import { type ApiFixture, apiFixture, validSpec } from './test-support.js';

/**
 * Proves API-key authentication through the real app on a real Redis (fastify inject):
 * without API_KEYS every route is open and a warning says so; with keys, every /v1 route
 * (the SSE stream included) answers 401 TRAINYARD_ERR_UNAUTHENTICATED with
 * `WWW-Authenticate: Bearer` to a missing, malformed or wrong key, before reading the
 * body, and 200 to each configured key; health and metrics stay open; keys never reach
 * a log line.
 */

const KEY_A = 'key-A.0123456789abcdef';
const KEY_B = 'key_B~+/=0123456789ABCDEF';

/** A pino logger whose lines are kept in memory. */
function capturingLogger(): { logger: ApiDeps['logger']; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => chunks.join('') };
}

const fixtures: ApiFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
});

async function fixture(overrides: Partial<ApiDeps> = {}): Promise<ApiFixture> {
  const fx = await apiFixture({ sseBlockMs: 200, ...overrides });
  fixtures.push(fx);
  return fx;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function expectUnauthenticated(res: {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}) {
  expect(res.statusCode).toBe(401);
  expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer realm="trainyard"/);
  const body = res.json() as ErrorBody;
  expect(body.error.code).toBe('TRAINYARD_ERR_UNAUTHENTICATED');
  expect(body.error.retryable).toBe(false);
  return body;
}

describe('API keys unset', () => {
  it('leaves every route open and warns at start', async () => {
    const log = capturingLogger();
    const fx = await fixture({ logger: log.logger });
    const list = await fx.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(list.statusCode).toBe(200);
    const submit = await fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: validSpec() });
    expect(submit.statusCode).toBe(201);
    expect(log.text()).toMatch(/"level":40,.*API_KEYS is not set: the api is open/);
  });

  it('treats an empty key list as unset', async () => {
    const fx = await fixture({ apiKeys: [] });
    expect((await fx.app.inject({ method: 'GET', url: '/v1/workers' })).statusCode).toBe(200);
  });
});

describe('API keys set', () => {
  it('refuses a request without an Authorization header', async () => {
    const fx = await fixture({ apiKeys: [KEY_A, KEY_B] });
    for (const url of ['/v1/jobs', '/v1/workers', '/v1/jobs/job-1']) {
      const body = expectUnauthenticated(await fx.app.inject({ method: 'GET', url }));
      expect(body.error.message).toMatch(/Authorization: Bearer <key>/);
    }
    expect((await fx.app.inject({ method: 'GET', url: '/v1/jobs' })).headers['www-authenticate']).toBe(
      'Bearer realm="trainyard"',
    );
  });

  it('refuses a wrong key and a malformed header with the same code', async () => {
    const fx = await fixture({ apiKeys: [KEY_A, KEY_B] });
    const headers = [
      bearer('key-A.0123456789abcdeX'), // one character off
      bearer(KEY_A.slice(0, -1)), // a prefix of a key
      bearer(`${KEY_A}x`), // a key plus one
      bearer(`${KEY_A},${KEY_B}`), // the raw API_KEYS value
      { authorization: KEY_A }, // no scheme
      { authorization: `Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${KEY_A} ${KEY_B}` },
      { authorization: `Token ${KEY_A}` },
    ];
    for (const h of headers) {
      const res = await fx.app.inject({ method: 'GET', url: '/v1/jobs', headers: h });
      const body = expectUnauthenticated(res);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="trainyard", error="invalid_token"');
      // The answer never repeats what was sent.
      expect(res.body).not.toContain(KEY_A.slice(4));
      expect(body.error.message).not.toContain('key-A');
    }
  });

  it('accepts each configured key (the scheme in any case) on every /v1 route', async () => {
    const fx = await fixture({ apiKeys: [KEY_A, KEY_B] });
    for (const key of [KEY_A, KEY_B]) {
      const submit = await fx.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: bearer(key),
        payload: validSpec(),
      });
      expect(submit.statusCode).toBe(201);
      const job = submit.json() as JobRecord;
      const get = await fx.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}`, headers: bearer(key) });
      expect(get.statusCode).toBe(200);
      const cancel = await fx.app.inject({
        method: 'POST',
        url: `/v1/jobs/${job.id}/cancel`,
        headers: { authorization: `bearer ${key}` },
      });
      expect(cancel.statusCode).toBe(200);
      expect((cancel.json() as JobRecord).state).toBe('CANCELLED');
    }
    const list = await fx.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(KEY_B) });
    expect((list.json() as { jobs: JobRecord[] }).jobs).toHaveLength(2);
    const workers = await fx.app.inject({ method: 'GET', url: '/v1/workers', headers: bearer(KEY_A) });
    expect(workers.statusCode).toBe(200);
  });

  it('refuses before reading the body: nothing is created, a bad body is not even parsed', async () => {
    const fx = await fixture({ apiKeys: [KEY_A] });
    expectUnauthenticated(await fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: validSpec() }));
    expectUnauthenticated(
      await fx.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { 'content-type': 'application/json' },
        payload: '{not json',
      }),
    );
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it('protects the SSE events route', async () => {
    const fx = await fixture({ apiKeys: [KEY_A] });
    const created = await fx.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: bearer(KEY_A),
      payload: validSpec(),
    });
    const job = created.json() as JobRecord;
    const url = `/v1/jobs/${job.id}/events`;
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url }));
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url, headers: bearer('x'.repeat(20)) }));
    // Cancelled, the stream ends after its last event, so inject returns.
    await fx.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(KEY_A) });
    const stream = await fx.app.inject({ method: 'GET', url, headers: bearer(KEY_A) });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.body).toContain('"state":"CANCELLED"');
  });

  it('keeps /healthz, /readyz and /metrics open', async () => {
    const fx = await fixture({ apiKeys: [KEY_A] });
    expect((await fx.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await fx.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const metrics = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    // Refused requests are counted like any other 4xx.
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url: '/v1/jobs' }));
    const after = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(after.body).toMatch(
      /trainyard_api_http_requests_total\{[^}]*route="\/v1\/jobs"[^}]*status_class="4xx"[^}]*\} 1/,
    );
  });

  it('answers 401, not 404, to an unknown path without a key (routes are not revealed)', async () => {
    const fx = await fixture({ apiKeys: [KEY_A] });
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url: '/v1/nope' }));
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url: '/admin' }));
    // A percent-encoded path the router decodes to a /v1 route is still protected.
    expectUnauthenticated(await fx.app.inject({ method: 'GET', url: '/%761/jobs' }));
    const known = await fx.app.inject({ method: 'GET', url: '/v1/nope', headers: bearer(KEY_A) });
    expect(known.statusCode).toBe(404);
  });

  it('never writes a key to the log, whoever logs the headers', async () => {
    const log = capturingLogger();
    const fx = await fixture({ apiKeys: [KEY_A, KEY_B], logger: log.logger });
    await fx.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(KEY_A) });
    await fx.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(`${KEY_B}-wrong`) });
    await fx.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: KEY_B } });
    fx.app.log.info({ req: { headers: { authorization: `Bearer ${KEY_A}` } } }, 'a careless line');
    fx.app.log.info({ headers: { authorization: `Bearer ${KEY_B}` } }, 'another careless line');
    const text = log.text();
    expect(text).toContain('API-key authentication on');
    expect(text).toContain('TRAINYARD_ERR_UNAUTHENTICATED'); // the refusals were logged...
    expect(text).toContain('a careless line');
    expect(text).toContain('[redacted]');
    for (const key of [KEY_A, KEY_B]) expect(text).not.toContain(key); // ...without any key
  });
});

describe('ApiKeyVerifier', () => {
  it('tells missing, malformed, invalid and ok apart', () => {
    const v = new ApiKeyVerifier([KEY_A]);
    expect(v.open).toBe(false);
    expect(v.check(undefined)).toBe('missing');
    expect(v.check('  ')).toBe('missing');
    expect(v.check('Bearer')).toBe('malformed');
    expect(v.check('Bearer k€y-0123456789abcdef')).toBe('malformed');
    expect(v.check(`Bearer ${KEY_B}`)).toBe('invalid');
    expect(v.check(`Bearer ${KEY_A}`)).toBe('ok');
    expect(v.check(`BEARER  ${KEY_A} `)).toBe('ok');
    expect(new ApiKeyVerifier([]).check(undefined)).toBe('ok');
  });
});
