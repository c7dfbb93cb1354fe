import { Errors, isTrainyardError, TrainyardError } from '@trainyard/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiIssue, isZodError, summarizeIssues, toApiIssues } from './validation.js';

/**
 * The one API error handler (STYLE.md #9). Every error answer has the shape
 * `{ error: { code, message, retryable, issues?, details? } }`:
 * - a TrainyardError keeps its status and code; when its cause is a ZodError, `issues`
 *   lists each failing path and message;
 * - a bare ZodError is 400 TRAINYARD_ERR_REQUEST_INVALID with its issues;
 * - Fastify's own request errors: a body over the limit is 413 BODY_TOO_LARGE, an
 *   unsupported media type, an empty or unparsable JSON body and any other 4xx are
 *   400 REQUEST_INVALID;
 * - Redis being unreachable is 503 REDIS_UNAVAILABLE (retryable);
 * - anything else is logged in full and answered with a plain 500 INTERNAL.
 */

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly retryable: boolean;
    readonly issues?: readonly ApiIssue[];
    readonly details?: unknown;
  };
}

/** Turns any thrown value into a TrainyardError a client may see (no internals leak). */
export function toPublicError(err: unknown): { error: TrainyardError; issues?: ApiIssue[]; known: boolean } {
  if (isTrainyardError(err)) {
    const issues = isZodError(err.cause) ? toApiIssues(err.cause) : undefined;
    return { error: err, known: true, ...(issues ? { issues } : {}) };
  }
  if (isZodError(err)) {
    const issues = toApiIssues(err);
    const message = summarizeIssues(Errors.REQUEST_INVALID.message, issues);
    return {
      error: new TrainyardError(Errors.REQUEST_INVALID, message, { cause: err }),
      issues,
      known: true,
    };
  }
  const fst = err as Partial<FastifyError> | null;
  if (fst && typeof fst === 'object' && typeof fst.code === 'string' && fst.code.startsWith('FST_')) {
    if (fst.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return { error: new TrainyardError(Errors.BODY_TOO_LARGE, undefined, { cause: err }), known: true };
    }
    if (fst.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const message = 'Content-Type must be application/json';
      return { error: new TrainyardError(Errors.REQUEST_INVALID, message, { cause: err }), known: true };
    }
    if (typeof fst.statusCode === 'number' && fst.statusCode === 404) {
      return { error: new TrainyardError(Errors.NOT_FOUND, undefined, { cause: err }), known: true };
    }
    if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500) {
      // Fastify's 4xx messages describe the request, never the server (e.g. "Body is not valid JSON ...").
      return { error: new TrainyardError(Errors.REQUEST_INVALID, fst.message, { cause: err }), known: true };
    }
  }
  if (isRedisUnavailable(err)) {
    return { error: new TrainyardError(Errors.REDIS_UNAVAILABLE, undefined, { cause: err }), known: false };
  }
  return { error: new TrainyardError(Errors.INTERNAL, undefined, { cause: err }), known: false };
}

/** ioredis gave up on a command (the server is down or unreachable). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (err.message === 'Connection is closed.' || err.message.startsWith("Stream isn't writeable"))
    return true;
  // ioredis's commandTimeout: Redis is connected but does not answer (stalled, partitioned).
  if (err.message === 'Command timed out') return true;
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE';
}

export function errorBody(error: TrainyardError, issues?: readonly ApiIssue[]): ErrorBody {
  return { error: { ...error.toJSON(), ...(issues ? { issues } : {}) } };
}

/** Logs `err` as it deserves and answers it with the error body. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { error, issues, known } = toPublicError(err);
  const summary = { code: error.code, message: error.message };
  if (!known) request.log.error({ err }, 'request failed');
  else if (error.status >= 500) request.log.warn(summary, 'request failed');
  else request.log.info(summary, 'request rejected');
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error, issues));
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) =>
    sendError(err, request, reply),
  );
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    const error = new TrainyardError(Errors.NOT_FOUND, `No route ${request.method} ${path}`);
    return reply.code(error.status).send(errorBody(error));
  });
}
