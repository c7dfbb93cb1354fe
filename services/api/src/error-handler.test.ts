import { Errors, TrainyardError } from '@trainyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ErrorBody, isRedisUnavailable, toPublicError } from './error-handler.js';
import { type ApiFixture, apiFixture } from './test-support.js';

let fx: ApiFixture;
beforeEach(async () => {
  fx = await apiFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('the error handler', () => {
  it('answers an unexpected error with a plain 500 that leaks nothing', async () => {
    fx.app.get('/test/boom', async () => {
      throw new Error('password=hunter2 at /srv/secret.ts:12');
    });
    const res = await fx.app.inject({ method: 'GET', url: '/test/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: 'TRAINYARD_ERR_INTERNAL', message: 'Internal error', retryable: false },
    });
    expect(res.body).not.toContain('hunter2');
  });

  it('keeps a TrainyardError status, code and details', async () => {
    fx.app.get('/test/known', async () => {
      throw new TrainyardError(Errors.JOB_TERMINAL, 'job x has already ended', {
        details: { state: 'FAILED' },
      });
    });
    const res = await fx.app.inject({ method: 'GET', url: '/test/known' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: {
        code: 'TRAINYARD_ERR_JOB_TERMINAL',
        message: 'job x has already ended',
        retryable: false,
        details: { state: 'FAILED' },
      },
    });
  });

  it('turns a bare ZodError into 400 REQUEST_INVALID with its issues', async () => {
    fx.app.get('/test/zod', async () => z.object({ a: z.number() }).parse({ a: 'x' }));
    const res = await fx.app.inject({ method: 'GET', url: '/test/zod' });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(body.error.issues).toEqual([
      { path: 'a', message: 'Invalid input: expected number, received string' },
    ]);
  });

  it('answers an unknown route with 404 NOT_FOUND in JSON', async () => {
    const res = await fx.app.inject({ method: 'DELETE', url: '/v1/jobs' });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorBody>().error).toMatchObject({ code: 'TRAINYARD_ERR_NOT_FOUND', retryable: false });
  });

  it.each([
    ['a malformed percent-encoding', '/v1/jobs/%E0%A4%A'],
    ['a parameter longer than the router allows', `/v1/jobs/${'j'.repeat(300)}`],
  ])('answers %s with 400 REQUEST_INVALID in JSON', async (_label, url) => {
    const res = await fx.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
  });
});

describe('toPublicError', () => {
  it('maps a lost Redis connection to 503 REDIS_UNAVAILABLE, retryable', () => {
    const lost = new Error('Connection is closed.');
    expect(isRedisUnavailable(lost)).toBe(true);
    const { error, known } = toPublicError(lost);
    expect(error.toJSON()).toEqual({
      code: 'TRAINYARD_ERR_REDIS_UNAVAILABLE',
      message: 'Redis is unreachable',
      retryable: true,
    });
    expect(error.status).toBe(503);
    expect(known).toBe(false);
  });

  it('keeps the original error as the cause', () => {
    const original = new Error('boom');
    expect(toPublicError(original).error.cause).toBe(original);
  });
});
