import type { Logger } from '@trainyard/core';
import type { FastifyInstance } from 'fastify';

/**
 * A named cleanup step of the process's shutdown. `createShutdown` runs every step in
 * order, once, even when one fails; calling it again returns the same promise.
 */
export interface CleanupStep {
  readonly name: string;
  run(): Promise<unknown> | unknown;
}

export function createShutdown(
  steps: readonly CleanupStep[],
  logger: Pick<Logger, 'info' | 'error'>,
): (reason: string) => Promise<void> {
  let done: Promise<void> | null = null;
  return (reason: string) => {
    done ??= (async () => {
      logger.info({ reason }, 'shutting down');
      for (const step of steps) {
        try {
          await step.run();
        } catch (err) {
          logger.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      logger.info('shut down');
    })();
    return done;
  };
}

/**
 * Closes the app (open SSE streams end first, then the server stops accepting and waits
 * for its connections), and after `graceMs` destroys every connection still open. Node's
 * `server.close()` reaps idle keep-alive connections, but after a client has aborted a
 * response some idle connections are not recognised as idle and would hold the close
 * until the client's keep-alive timeout.
 */
export async function closeAppWithGrace(app: FastifyInstance, graceMs: number): Promise<void> {
  const force = setTimeout(() => app.server.closeAllConnections(), graceMs);
  force.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(force);
  }
}
