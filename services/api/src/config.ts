import { API_KEY_PATTERN, BaseConfig, compileConfig, port, positiveMs } from '@trainyard/core';
import { z } from 'zod';

/**
 * The api's options, compiled once from the environment (STYLE.md #10): a frozen object
 * with every default applied and durations as `...Ms` numbers. A bad value fails at start
 * with TRAINYARD_ERR_CONFIG_INVALID naming the variable.
 */

const MIB = 1024 * 1024;

/** Characters an API key may hold (RFC 6750 b64token, so it travels as `Bearer <key>` unchanged). */
export const API_KEY_MIN_LENGTH = 16;
export const API_KEY_MAX_LENGTH = 256;

/**
 * `API_KEYS`: comma-separated keys; spaces around a key are ignored. Unset (or empty)
 * means no key is needed. Messages name a bad key by its position and length only: a key
 * never appears in an error, a log line or a stack trace.
 */
export const ApiKeys = z
  .string()
  .superRefine((raw, ctx) => {
    const keys = raw.split(',').map((k) => k.trim());
    keys.forEach((key, i) => {
      const which = `key ${i + 1} of ${keys.length}`;
      if (key === '') {
        ctx.addIssue({ code: 'custom', message: `${which} is empty (remove the extra comma)` });
      } else if (key.length < API_KEY_MIN_LENGTH || key.length > API_KEY_MAX_LENGTH) {
        ctx.addIssue({
          code: 'custom',
          message: `${which} has ${key.length} characters; a key must have ${API_KEY_MIN_LENGTH} to ${API_KEY_MAX_LENGTH}`,
        });
      } else if (!API_KEY_PATTERN.test(key)) {
        ctx.addIssue({
          code: 'custom',
          message: `${which} holds a character other than A-Z a-z 0-9 . _ ~ + / = -`,
        });
      }
    });
  })
  .transform((raw): readonly string[] => Object.freeze([...new Set(raw.split(',').map((k) => k.trim()))]));

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
  API_KEYS: ApiKeys.optional(),
  /** `true`: refuse to start without API_KEYS (deployments), so an emptied secret cannot open the api. */
  API_REQUIRE_KEYS: z.enum(['true', 'false']).default('false'),
}).refine((env) => env.API_REQUIRE_KEYS === 'false' || (env.API_KEYS?.length ?? 0) > 0, {
  path: ['API_KEYS'],
  message: 'API_REQUIRE_KEYS is true but no key is set: set API_KEYS (16-256 characters each)',
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
  /** Keys accepted as `Authorization: Bearer <key>` on every route but health and metrics; empty = open. */
  apiKeys: env.API_KEYS ?? (Object.freeze([]) as readonly string[]),
}));
export type ApiConfig = z.infer<typeof ApiConfig>;

/** Compiles the api's config from `env` (default `process.env`); throws TRAINYARD_ERR_CONFIG_INVALID. */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  return compileConfig(ApiConfig, env);
}
