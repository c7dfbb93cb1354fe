import type { JobRecord } from '@trainyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statusClass } from './http-metrics.js';
import { type ApiFixture, apiFixture, validSpec } from './test-support.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict-enough parser of the Prometheus text format: fails on any line it does not understand. */
function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|-Inf|NaN))$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

let fx: ApiFixture;
beforeEach(async () => {
  fx = await apiFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('GET /metrics', () => {
  it('serves Prometheus text with request counts by route pattern, never by raw URL', async () => {
    const job = (
      await fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: validSpec() })
    ).json<JobRecord>();
    await fx.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}` });
    await fx.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}` });
    await fx.app.inject({ method: 'GET', url: '/v1/jobs/job-missing' });
    await fx.app.inject({ method: 'GET', url: '/no/such/route/123' });

    const res = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(fx.metrics.contentType);
    expect(res.body).not.toContain(job.id);
    expect(res.body).not.toContain('/no/such/route');

    const samples = parsePrometheusText(res.body);
    const count = (route: string, method: string, status_class: string) =>
      samples.find(
        (s) =>
          s.name === 'trainyard_api_http_requests_total' &&
          s.labels.route === route &&
          s.labels.method === method &&
          s.labels.status_class === status_class,
      )?.value;
    expect(count('/v1/jobs', 'POST', '2xx')).toBe(1);
    expect(count('/v1/jobs/:id', 'GET', '2xx')).toBe(2);
    expect(count('/v1/jobs/:id', 'GET', '4xx')).toBe(1);
    expect(count('unmatched', 'GET', '4xx')).toBe(1);
    expect(samples.find((s) => s.name === 'trainyard_api_http_requests_total')?.labels.component).toBe('api');

    const durationCount = samples.find(
      (s) =>
        s.name === 'trainyard_api_http_request_duration_seconds_count' &&
        s.labels.route === '/v1/jobs/:id' &&
        s.labels.method === 'GET',
    );
    expect(durationCount?.value).toBe(3);
    expect(res.body).toContain('# TYPE trainyard_api_http_request_duration_seconds histogram');
  });

  it('two apps can share one registry without clashing metric names', async () => {
    const { buildApp } = await import('./app.js');
    const second = buildApp({
      redis: fx.redis,
      keys: fx.keys,
      store: fx.store,
      submissions: fx.submissions,
      logger: fx.app.log as never,
      metrics: fx.metrics,
    });
    await second.ready();
    await second.close();
  });
});

describe('statusClass', () => {
  it.each([
    [200, '2xx'],
    [302, '3xx'],
    [404, '4xx'],
    [503, '5xx'],
    [99, 'other'],
  ])('%i -> %s', (status, cls) => {
    expect(statusClass(status)).toBe(cls);
  });
});
