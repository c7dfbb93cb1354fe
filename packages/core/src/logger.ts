import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** JSON logs; bind `jobId`, `generation`, `rank`, `workerId` with `logger.child({...})`. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } });
}
