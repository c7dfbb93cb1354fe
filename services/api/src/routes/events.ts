import { Errors, type JobStore, type Redis, TrainyardError } from '@trainyard/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { markResponseStarted } from '../http-metrics.js';
import { JobEventStream } from '../job-event-stream.js';
import { EventsQuery, JobParams, StreamId, validateRequest } from '../validation.js';

/**
 * `GET /v1/jobs/:id/events`: the job's events as Server-Sent Events, replayable from the
 * start. `Last-Event-ID` (sent by EventSource on reconnect) wins over `?after=`; with
 * neither, the stream starts at the first event. Each client gets a Redis connection of
 * its own for blocking reads, closed when the client leaves or the app closes.
 */

export interface EventRoutesDeps {
  readonly store: JobStore;
  /** Opens the dedicated connection of one stream. */
  readonly openConnection: () => Redis;
  readonly heartbeatMs: number;
  readonly blockMs: number;
}

const LastEventIdHeader = z.object({ 'Last-Event-ID': StreamId });

export function registerEventRoutes(app: FastifyInstance, deps: EventRoutesDeps): void {
  const streams = new Set<JobEventStream>();

  app.addHook('preClose', async () => {
    await Promise.all([...streams].map((s) => s.close()));
  });

  // No HEAD twin: a HEAD request would start a stream that sends no body and never ends.
  app.get('/v1/jobs/:id/events', { exposeHeadRoute: false }, async (request, reply) => {
    const { id } = validateRequest(JobParams, request.params, 'invalid job id');
    const query = validateRequest(EventsQuery, request.query, 'invalid query');
    const header = request.headers['last-event-id'];
    let afterId = query.after ?? '0';
    if (header !== undefined && header !== '') {
      afterId = validateRequest(LastEventIdHeader, { 'Last-Event-ID': header }, 'invalid header')[
        'Last-Event-ID'
      ];
    }
    if ((await deps.store.getState(id)) === null) {
      throw new TrainyardError(Errors.JOB_NOT_FOUND, `no job has id ${id}`);
    }

    reply.hijack();
    const stream = new JobEventStream({
      jobId: id,
      afterId,
      store: deps.store,
      connection: deps.openConnection(),
      response: reply.raw,
      logger: request.log.child({ jobId: id }),
      heartbeatMs: deps.heartbeatMs,
      blockMs: deps.blockMs,
      onStarted: () => markResponseStarted(request),
    });
    streams.add(stream);
    try {
      await stream.run();
    } finally {
      streams.delete(stream);
    }
  });
}
