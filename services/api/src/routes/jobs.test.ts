import type { JobRecord } from '@trainyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../error-handler.js';
import { type ApiFixture, apiFixture, parsedSpec, validSpec } from '../test-support.js';

let fx: ApiFixture;
beforeEach(async () => {
  fx = await apiFixture();
});
afterEach(async () => {
  await fx.close();
});

async function submit(payload: unknown = validSpec(), headers: Record<string, string> = {}) {
  return fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: payload as object, headers });
}

describe('POST /v1/jobs', () => {
  it('creates a QUEUED job, hands it to the scheduler once, and answers 201 with the record', async () => {
    const res = await submit();
    expect(res.statusCode, res.body).toBe(201);
    const job = res.json<JobRecord>();
    expect(job).toMatchObject({ state: 'QUEUED', generation: 0, tenant: 'default', spec: parsedSpec() });
    expect(job.id).toMatch(/^job-[0-9a-f-]{36}$/);
    expect(job.spec.seed).toBe(0); // defaults applied
    expect(res.headers.location).toBe(`/v1/jobs/${job.id}`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);

    expect(await fx.counts()).toEqual({ indexed: 1, queued: 1 });
    const queued = await fx.submissions.getJob(job.id);
    expect(queued?.name).toBe('submit');
    expect(queued?.data).toEqual({ jobId: job.id, submittedAt: job.createdAt });
    expect(await fx.store.get(job.id)).toEqual(job);
  });

  it('replays a submission with the same Idempotency-Key and body: 200, the first job, still one job', async () => {
    const first = await submit(validSpec(), { 'idempotency-key': 'nightly-2024-06-01' });
    expect(first.statusCode).toBe(201);
    const again = await submit(validSpec(), { 'idempotency-key': 'nightly-2024-06-01' });
    expect(again.statusCode).toBe(200);
    expect(again.json<JobRecord>().id).toBe(first.json<JobRecord>().id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    expect(await fx.counts()).toEqual({ indexed: 1, queued: 1 });
  });

  it('answers 409 IDEMPOTENCY_CONFLICT when the key was used with a different spec, and creates nothing', async () => {
    const first = await submit(validSpec(), { 'idempotency-key': 'k1' });
    expect(first.statusCode).toBe(201);
    const res = await submit({ ...validSpec(), epochs: 3 }, { 'idempotency-key': 'k1' });
    expect(res.statusCode).toBe(409);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_IDEMPOTENCY_CONFLICT');
    expect(body.error.details).toEqual({ jobId: first.json<JobRecord>().id });
    expect(await fx.counts()).toEqual({ indexed: 1, queued: 1 });
  });

  it('treats a spec equal after defaults as the same submission', async () => {
    await submit(validSpec(), { 'idempotency-key': 'k2' });
    const res = await submit(
      { ...validSpec(), seed: 0, checkpoint: { everySteps: 100 } },
      { 'idempotency-key': 'k2' },
    );
    expect(res.statusCode).toBe(200);
  });

  it('a replay enqueues a job whose record exists but whose submission was lost (crash between the two)', async () => {
    const { job } = await fx.store.create(parsedSpec(), { idempotencyKey: 'crashed' });
    expect(await fx.counts()).toEqual({ indexed: 1, queued: 0 });
    const res = await submit(validSpec(), { 'idempotency-key': 'crashed' });
    expect(res.statusCode).toBe(200);
    expect(res.json<JobRecord>().id).toBe(job.id);
    expect(await fx.counts()).toEqual({ indexed: 1, queued: 1 });
    expect((await fx.submissions.getJob(job.id))?.data.jobId).toBe(job.id);
  });

  it('a replay does not resubmit a job the scheduler has already taken', async () => {
    const first = (await submit(validSpec(), { 'idempotency-key': 'taken' })).json<JobRecord>();
    await fx.submissions.remove(first.id); // the scheduler consumed it
    await fx.store.change(first.id, { to: 'PLACED', from: ['QUEUED'] });
    const res = await submit(validSpec(), { 'idempotency-key': 'taken' });
    expect(res.statusCode).toBe(200);
    expect(res.json<JobRecord>().state).toBe('PLACED');
    expect(await fx.counts()).toEqual({ indexed: 1, queued: 0 });
  });

  it.each([
    ['empty', ''],
    ['longer than 200 characters', 'k'.repeat(201)],
    ['holding a tab', 'a\tb'],
    ['holding a non-ASCII character', 'clé'],
  ])('refuses an Idempotency-Key %s with 400 REQUEST_INVALID', async (_label, key) => {
    const res = await submit(validSpec(), { 'idempotency-key': key });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(body.error.issues?.[0]?.path).toBe('Idempotency-Key');
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it('accepts an Idempotency-Key of exactly 200 printable characters', async () => {
    const res = await submit(validSpec(), { 'idempotency-key': `${'k'.repeat(190)} !~"{}[]:;` });
    expect(res.statusCode).toBe(201);
  });

  it.each([
    ['text/plain', 'text/plain', JSON.stringify(validSpec())],
    ['form-encoded', 'application/x-www-form-urlencoded', 'workers=2'],
    ['invalid JSON', 'application/json', '{"workers": 2,'],
    ['an empty JSON body', 'application/json', ''],
    ['a prototype-poisoning key', 'application/json', '{"__proto__": {"admin": true}}'],
  ])('refuses %s with 400 REQUEST_INVALID', async (_label, contentType, payload) => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': contentType },
      payload,
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it('refuses a request without a body with 400 REQUEST_INVALID', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/v1/jobs' });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
  });
});

describe('body limit', () => {
  it('answers 413 BODY_TOO_LARGE over the limit, and creates nothing', async () => {
    const small = await apiFixture({ bodyLimit: 2048 });
    try {
      const spec = { ...validSpec(), name: 'x'.repeat(100) };
      const padded = `${JSON.stringify(spec)}${' '.repeat(3000)}`;
      const res = await small.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { 'content-type': 'application/json' },
        payload: padded,
      });
      expect(res.statusCode).toBe(413);
      expect(res.json<ErrorBody>().error).toMatchObject({
        code: 'TRAINYARD_ERR_BODY_TOO_LARGE',
        retryable: false,
      });
      expect(await small.counts()).toEqual({ indexed: 0, queued: 0 });
      // Just under the limit is fine.
      const ok = await small.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
      expect(ok.statusCode).toBe(201);
    } finally {
      await small.close();
    }
  });
});

describe('GET /v1/jobs and /v1/jobs/:id', () => {
  it('lists jobs newest first, filters by state and honours limit', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await submit({ ...validSpec(), name: `job-${i}` })).json<JobRecord>().id);
      await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    }
    await fx.store.change(ids[1]!, { to: 'CANCELLED', from: ['QUEUED'] });

    const all = await fx.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(all.statusCode).toBe(200);
    expect(all.json<{ jobs: JobRecord[] }>().jobs.map((j) => j.id)).toEqual([...ids].reverse());

    const limited = await fx.app.inject({ method: 'GET', url: '/v1/jobs?limit=2' });
    expect(limited.json<{ jobs: JobRecord[] }>().jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);

    const cancelled = await fx.app.inject({ method: 'GET', url: '/v1/jobs?state=CANCELLED' });
    expect(cancelled.json<{ jobs: JobRecord[] }>().jobs.map((j) => j.id)).toEqual([ids[1]]);

    const queued = await fx.app.inject({ method: 'GET', url: '/v1/jobs?state=QUEUED&limit=1' });
    expect(queued.json<{ jobs: JobRecord[] }>().jobs.map((j) => j.id)).toEqual([ids[2]]);
  });

  it('lists nothing when there are no jobs', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(res.json()).toEqual({ jobs: [] });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['state=DONE', 'state'],
    ['sort=asc', 'sort'],
  ])('refuses the query %s with 400 naming %s', async (query, path) => {
    const res = await fx.app.inject({ method: 'GET', url: `/v1/jobs?${query}` });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(body.error.issues?.map((i) => i.path)).toEqual([path]);
  });

  it('gets a job by id', async () => {
    const job = (await submit()).json<JobRecord>();
    const res = await fx.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(job);
  });

  it('answers 404 JOB_NOT_FOUND for an unknown id', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/v1/jobs/job-does-not-exist' });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorBody>().error).toMatchObject({
      code: 'TRAINYARD_ERR_JOB_NOT_FOUND',
      retryable: false,
    });
  });

  it.each([
    ['a space', 'a%20b'],
    ['a colon', 'job%3A1'],
    ['a brace (hash tag)', '%7Bjob%7D'],
    ['129 characters', 'j'.repeat(129)],
  ])('refuses an id holding %s with 400 REQUEST_INVALID', async (_label, id) => {
    const res = await fx.app.inject({ method: 'GET', url: `/v1/jobs/${id}` });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(body.error.issues?.[0]?.path).toBe('id');
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a QUEUED job, and a second cancel answers the same record', async () => {
    const job = (await submit()).json<JobRecord>();
    const res = await fx.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    expect(res.statusCode).toBe(200);
    const cancelled = res.json<JobRecord>();
    expect(cancelled).toMatchObject({ id: job.id, state: 'CANCELLED' });
    expect(cancelled.endedAt).toEqual(expect.any(String));

    const again = await fx.app.inject({
      method: 'POST',
      url: `/v1/jobs/${job.id}/cancel`,
      headers: { 'content-type': 'application/json' }, // an empty JSON body is fine here
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(cancelled);

    const events = await fx.store.readEvents(job.id, '0');
    const states = events.flatMap((e) => (e.event.type === 'state' ? [[e.event.state, e.event.reason]] : []));
    expect(states).toEqual([
      ['QUEUED', undefined],
      ['CANCELLED', 'cancelled by request'],
    ]);
  });

  it('cancels a RUNNING job', async () => {
    const job = (await submit()).json<JobRecord>();
    await fx.store.change(job.id, { to: 'PLACED' });
    await fx.store.change(job.id, { to: 'RUNNING' });
    const res = await fx.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    expect(res.statusCode).toBe(200);
    expect(res.json<JobRecord>().state).toBe('CANCELLED');
  });

  it.each(['SUCCEEDED', 'FAILED'] as const)(
    'answers 409 JOB_TERMINAL for a %s job, which stays as it was',
    async (state) => {
      const job = (await submit()).json<JobRecord>();
      await fx.store.change(job.id, { to: state, from: ['QUEUED'] });
      const res = await fx.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorBody>().error).toMatchObject({
        code: 'TRAINYARD_ERR_JOB_TERMINAL',
        details: { state },
      });
      expect((await fx.store.get(job.id))?.state).toBe(state);
    },
  );

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    const missing = await fx.app.inject({ method: 'POST', url: '/v1/jobs/job-nope/cancel' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorBody>().error.code).toBe('TRAINYARD_ERR_JOB_NOT_FOUND');
    const bad = await fx.app.inject({ method: 'POST', url: '/v1/jobs/a%2Fb/cancel' });
    expect(bad.statusCode).toBe(400);
    expect(await fx.redis.exists(fx.keys.job('a/b'))).toBe(0);
  });
});
