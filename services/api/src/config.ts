import { BaseConfig, compileConfig, port, positiveMs } from '@trainyard/core';
import { z } from 'zod';

/**
 * The api's options, compiled once from the environment (STYLE.md #10): a frozen object
 * with every default applied and durations as `...Ms` numbers. A bad value fails at start
 * with TRAINYARD_ERR_CONFIG_INVALID naming the variable.
 */

const MIB = 1024 * 1024;

export const ApiEnv = BaseConfig.extend({
  API_HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  API_PORT: port.default(8080),
  API_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024, 'must be at least 1024')
    .max(64 * MIB, `must be at most ${64 * MIB}`)
    .default(MIB),
  API_SSE_HEARTBEAT_MS: positiveMs.default(15_000),
  API_READY_TIMEOUT_MS: positiveMs.max(30_000).default(1_000),
  API_SHUTDOWN_GRACE_MS: positiveMs.default(10_000),
});

export const ApiConfig = ApiEnv.transform((env) => ({
  host: env.API_HOST,
  port: env.API_PORT,
  redisUrl: env.REDIS_URL,
  prefix: env.TRAINYARD_PREFIX,
  logLevel: env.LOG_LEVEL,
  bodyLimitBytes: env.API_BODY_LIMIT_BYTES,
  sseHeartbeatMs: env.API_SSE_HEARTBEAT_MS,
  readyTimeoutMs: env.API_READY_TIMEOUT_MS,
  shutdownGraceMs: env.API_SHUTDOWN_GRACE_MS,
}));
export type ApiConfig = z.infer<typeof ApiConfig>;

/** Compiles the api's config from `env` (default `process.env`); throws TRAINYARD_ERR_CONFIG_INVALID. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  return compileConfig(ApiConfig, env);
}
