import {
  Errors,
  isTerminal,
  type JobRecord,
  JobSpec,
  type JobStore,
  StoreResult,
  type Submission,
  TrainyardError,
} from '@trainyard/core';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { IdempotencyKey, JobParams, ListJobsQuery, validate, validateRequest } from '../validation.js';

/**
 * Job routes: submit, list, get, cancel. The api only writes the record and hands the job
 * to the scheduler through the durable `submissions` queue; it never places or runs a job.
 */

export interface JobRoutesDeps {
  readonly store: JobStore;
  readonly submissions: Queue<Submission>;
}

const IdempotencyHeaders = z.object({ 'Idempotency-Key': IdempotencyKey.optional() });

export const CANCELLABLE_STATES = ['QUEUED', 'PLACED', 'RUNNING'] as const;

export function jobLocation(jobId: string): string {
  return `/v1/jobs/${encodeURIComponent(jobId)}`;
}

/**
 * Hands a job to the scheduler. BullMQ refuses a second job with the same id while the
 * first is in the queue, so adding again (an idempotent replay) never duplicates it, and
 * it heals a crash between creating the record and enqueueing it.
 */
export async function enqueueSubmission(submissions: Queue<Submission>, job: JobRecord): Promise<void> {
  const submission: Submission = { jobId: job.id, submittedAt: job.createdAt };
  await submissions.add('submit', submission, { jobId: job.id, removeOnComplete: true, removeOnFail: 1000 });
}

export function registerJobRoutes(app: FastifyInstance, deps: JobRoutesDeps): void {
  const { store, submissions } = deps;

  app.post('/v1/jobs', async (request, reply) => {
    const headers = validateRequest(
      IdempotencyHeaders,
      { 'Idempotency-Key': request.headers['idempotency-key'] },
      'invalid header',
    );
    if (request.body === undefined) {
      throw new TrainyardError(Errors.REQUEST_INVALID, 'a JSON body (the job spec) is required');
    }
    const spec = validate(JobSpec, request.body, Errors.SPEC_INVALID, Errors.SPEC_INVALID.message);
    const idempotencyKey = headers['Idempotency-Key'];
    const { job, created } = await store.create(spec, idempotencyKey === undefined ? {} : { idempotencyKey });
    // On a replay, a job the scheduler already took (no longer QUEUED) needs no new submission.
    if (created || job.state === 'QUEUED') await enqueueSubmission(submissions, job);
    request.log.info({ jobId: job.id, created }, created ? 'job submitted' : 'job submission replayed');
    reply.header('location', jobLocation(job.id));
    if (!created) reply.header('idempotent-replayed', 'true');
    return reply.code(created ? 201 : 200).send(job);
  });

  app.get('/v1/jobs', async (request) => {
    const query = validateRequest(ListJobsQuery, request.query, 'invalid query');
    const jobs = await store.list(query.state === undefined ? { limit: query.limit } : query);
    return { jobs };
  });

  app.get('/v1/jobs/:id', async (request) => {
    const { id } = validateRequest(JobParams, request.params, 'invalid job id');
    return store.mustGet(id);
  });

  app.post('/v1/jobs/:id/cancel', async (request) => {
    const { id } = validateRequest(JobParams, request.params, 'invalid job id');
    const { result, state } = await store.change(id, {
      to: 'CANCELLED',
      from: CANCELLABLE_STATES,
      reason: 'cancelled by request',
    });
    if (result === StoreResult.NOT_FOUND) {
      throw new TrainyardError(Errors.JOB_NOT_FOUND, `no job has id ${id}`);
    }
    if (result === StoreResult.WRONG_STATE) {
      if (state !== null && isTerminal(state)) {
        throw new TrainyardError(Errors.JOB_TERMINAL, `job ${id} has already ended (${state})`, {
          details: { state },
        });
      }
      throw new Error(`cancel of job ${id} refused in state ${String(state)}`);
    }
    if (result !== StoreResult.OK && result !== StoreResult.NOOP) {
      throw new Error(`cancel of job ${id} returned ${String(result)}`);
    }
    if (result === StoreResult.OK) request.log.info({ jobId: id }, 'job cancelled');
    return store.mustGet(id);
  });
}
