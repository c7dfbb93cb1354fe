import type { Registry } from '@trainyard/core';
import type { FastifyInstance } from 'fastify';

/** `GET /metrics`: Prometheus text exposition of the registry passed in. */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
