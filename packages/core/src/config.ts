import { z } from 'zod';
import { Errors, TrainyardError } from './errors.js';

/**
 * Options are compiled once: raw env/options -> zod -> a frozen, defaulted object with
 * durations as `...Ms` numbers. A bad value fails at start with a message naming the
 * variable, e.g. `TRAINYARD_CONFIG: REDIS_URL: must be a redis:// URL`.
 */

export const redisUrl = z
  .string()
  .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
  .default('redis://127.0.0.1:6379');

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveMs = z.coerce.number().int().positive();
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');
export const keyPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'may hold letters, digits, _ . - only')
  .default('trainyard');

/** Common to every service. */
export const BaseConfig = z.object({
  REDIS_URL: redisUrl,
  TRAINYARD_PREFIX: keyPrefix,
  LOG_LEVEL: logLevel,
});

export function compileConfig<T extends z.ZodType>(
  schema: T,
  raw: Record<string, string | undefined>,
): Readonly<z.infer<T>> {
  // An empty variable (`API_PORT=`) means "not set", not 0 or "".
  const present = Object.fromEntries(
    Object.entries(raw).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TrainyardError(Errors.CONFIG_INVALID, `invalid configuration: ${lines.join('; ')}`, {
      details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return Object.freeze(parsed.data);
}

/**
 * Loads a service's configuration at start, or exits 1 with one line naming the service and
 * every bad variable (no stack trace: a bad setting is the operator's to fix, not a crash).
 */
export function configOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof TrainyardError) || err.code !== Errors.CONFIG_INVALID.code) throw err;
    process.stderr.write(`trainyard ${service}: ${err.code}: ${err.message}\n`);
    process.exit(1);
  }
}

/** What an API key may hold (api `API_KEYS`, CLI `TRAINYARD_API_KEY`): header-safe, base64 and URL-safe tokens. */
export const API_KEY_PATTERN = /^[A-Za-z0-9._~+/=-]+$/;
