import type { Logger } from 'pino';

/** A named cleanup step of a close() or of the process's shutdown. */
export interface CleanupStep {
  readonly name: string;
  run(): Promise<unknown> | unknown;
}

/** Runs every step in order, even when one fails (the failure is logged). */
export async function runCleanup(steps: readonly CleanupStep[], logger: Pick<Logger, 'warn'>): Promise<void> {
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      logger.warn({ err, step: step.name }, 'cleanup step failed');
    }
  }
}

/** A process shutdown that runs its steps once; calling it again returns the same promise. */
export function createShutdown(
  steps: readonly CleanupStep[],
  logger: Pick<Logger, 'info' | 'warn'>,
): (reason: string) => Promise<void> {
  let done: Promise<void> | null = null;
  return (reason: string) => {
    done ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await runCleanup(steps, logger);
      logger.info('shut down');
    })();
    return done;
  };
}

/**
 * On SIGINT or SIGTERM: shut down, then exit 0; exit 1 if the shutdown takes longer than
 * `forceAfterMs` (a stuck connection must not keep a pod from stopping).
 */
export function exitOnSignals(shutdown: (reason: string) => Promise<void>, forceAfterMs = 15_000): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      setTimeout(() => process.exit(1), forceAfterMs).unref();
      void shutdown(signal).then(() => process.exit(0));
    });
  }
}
