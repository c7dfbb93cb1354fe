import { type Keys, memberState, type Redis, readPool } from '@trainyard/core';
import type { FastifyInstance } from 'fastify';

export interface WorkerRoutesDeps {
  readonly redis: Redis;
  readonly keys: Keys;
}

/**
 * `GET /v1/workers`: the pool as the scheduler sees it — each registered worker with its
 * backend, its state (free, busy, lost) and the rank it runs.
 */
export function registerWorkerRoutes(app: FastifyInstance, deps: WorkerRoutesDeps): void {
  app.get('/v1/workers', async () => {
    const pool = await readPool(deps.redis, deps.keys);
    return {
      workers: pool.map((m) => ({
        ...m.registration,
        state: memberState(m),
        running: m.heartbeat?.running ?? null,
        lastHeartbeat: m.heartbeat?.ts ?? null,
        assignment: m.assignment,
      })),
    };
  });
}
