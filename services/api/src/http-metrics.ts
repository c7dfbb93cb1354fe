import { Counter, DURATION_BUCKETS_SECONDS, Histogram, type Registry } from '@trainyard/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * HTTP metrics on the registry passed in (never the global one):
 * - `trainyard_api_http_requests_total{method,route,status_class}`
 * - `trainyard_api_http_request_duration_seconds{method,route}`
 * `route` is the route pattern (`/v1/jobs/:id`), or `unmatched` when no route matched,
 * so no label takes a raw URL. A response is counted when it closes, which also covers
 * hijacked replies (SSE) and clients that hang up; its duration ends with the response,
 * or at the first byte for a stream (`markResponseStarted`).
 */

export const UNMATCHED_ROUTE = 'unmatched';

export interface HttpMetrics {
  readonly requests: Counter<'method' | 'route' | 'status_class'>;
  readonly duration: Histogram<'method' | 'route'>;
}

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const requests = getOrCreate(
    registry,
    'trainyard_api_http_requests_total',
    () =>
      new Counter({
        name: 'trainyard_api_http_requests_total',
        help: 'HTTP requests answered by the api, by method, route pattern and status class.',
        labelNames: ['method', 'route', 'status_class'] as const,
        registers: [registry],
      }),
  );
  const duration = getOrCreate(
    registry,
    'trainyard_api_http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'trainyard_api_http_request_duration_seconds',
        help: 'Time from receiving an HTTP request to the end of its response, by method and route pattern.',
        labelNames: ['method', 'route'] as const,
        buckets: DURATION_BUCKETS_SECONDS,
        registers: [registry],
      }),
  );
  return { requests, duration };
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

/** Per request: observes its duration once (at its first byte for streams, else at its end). */
const observeDuration = new WeakMap<object, () => void>();

/**
 * Ends the duration of a streaming response (SSE) when its head is written, so that the
 * histogram measures time to the first byte rather than how long a client kept listening.
 */
export function markResponseStarted(request: FastifyRequest): void {
  observeDuration.get(request.raw)?.();
}

export function registerHttpMetrics(app: FastifyInstance, registry: Registry): HttpMetrics {
  const metrics = createHttpMetrics(registry);
  app.addHook('onRequest', (request, reply, done) => {
    const started = process.hrtime.bigint();
    const route = () => request.routeOptions.url ?? UNMATCHED_ROUTE;
    let observed = false;
    const observe = () => {
      if (observed) return;
      observed = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.duration.observe({ method: request.method, route: route() }, seconds);
    };
    observeDuration.set(request.raw, observe);
    reply.raw.once('close', () => {
      observe();
      const status_class = statusClass(reply.raw.statusCode);
      metrics.requests.inc({ method: request.method, route: route(), status_class });
    });
    done();
  });
  return metrics;
}
