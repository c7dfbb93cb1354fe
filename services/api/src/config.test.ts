import { isTrainyardError } from '@trainyard/core';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './config.js';

describe('loadApiConfig', () => {
  it('applies every default', () => {
    expect(loadApiConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'trainyard',
      logLevel: 'info',
      bodyLimitBytes: 1024 * 1024,
      sseHeartbeatMs: 15_000,
      readyTimeoutMs: 1_000,
      shutdownGraceMs: 10_000,
    });
  });

  it('reads and coerces the environment, and freezes the result', () => {
    const config = loadApiConfig({
      API_HOST: '0.0.0.0',
      API_PORT: '9090',
      REDIS_URL: 'rediss://redis.internal:6380',
      TRAINYARD_PREFIX: 'staging',
      LOG_LEVEL: 'debug',
      API_BODY_LIMIT_BYTES: '65536',
      API_SSE_HEARTBEAT_MS: '5000',
      API_READY_TIMEOUT_MS: '250',
      API_SHUTDOWN_GRACE_MS: '3000',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9090,
      bodyLimitBytes: 65536,
      sseHeartbeatMs: 5000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['API_PORT', '70000', 'invalid configuration: API_PORT: Too big: expected number to be <=65535'],
    ['API_BODY_LIMIT_BYTES', '100', 'invalid configuration: API_BODY_LIMIT_BYTES: must be at least 1024'],
    [
      'API_SSE_HEARTBEAT_MS',
      '0',
      'invalid configuration: API_SSE_HEARTBEAT_MS: Too small: expected number to be >0',
    ],
    ['REDIS_URL', 'http://x', 'invalid configuration: REDIS_URL: must be a redis:// or rediss:// URL'],
  ])('refuses a bad %s with a message naming it', (name, value, message) => {
    let thrown: unknown;
    try {
      loadApiConfig({ [name]: value });
    } catch (err) {
      thrown = err;
    }
    expect(isTrainyardError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(message);
    expect((thrown as { code: string }).code).toBe('TRAINYARD_ERR_CONFIG_INVALID');
  });
});
