import type { FastifyInstance } from 'fastify';

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
