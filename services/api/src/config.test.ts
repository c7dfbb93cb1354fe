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
      apiKeys: [],
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

  // API_KEYS: parsed into a list; a bad key is refused naming its position and length only.
  it('reads API_KEYS as a list, trimming spaces and dropping duplicates', () => {
    const a = 'abcdefghijklmnop'; // 16: the shortest key allowed
    const b = `${'Z'.repeat(250)}._~+/=`; // 256: the longest
    const config = loadApiConfig({ API_KEYS: ` ${a} ,${b},${a}` });
    expect(config.apiKeys).toEqual([a, b]);
    expect(Object.isFrozen(config.apiKeys)).toBe(true);
    expect(loadApiConfig({ API_KEYS: '  ' }).apiKeys).toEqual([]); // empty = unset
  });

  it('API_REQUIRE_KEYS=true refuses to start without keys (an emptied secret must not open the api)', () => {
    expect(() => loadApiConfig({ API_REQUIRE_KEYS: 'true' })).toThrow(
      'invalid configuration: API_KEYS: API_REQUIRE_KEYS is true but no key is set',
    );
    expect(() => loadApiConfig({ API_REQUIRE_KEYS: 'true', API_KEYS: ' ' })).toThrow(/no key is set/);
    expect(loadApiConfig({ API_REQUIRE_KEYS: 'true', API_KEYS: 'abcdefghijklmnop' }).apiKeys).toHaveLength(1);
    expect(() => loadApiConfig({ API_REQUIRE_KEYS: 'yes' })).toThrow(/API_REQUIRE_KEYS/);
  });

  it.each([
    [
      'a short key',
      'good-key-0123456789,tooShort-secret',
      'key 2 of 2 has 15 characters; a key must have 16 to 256',
    ],
    ['a long key', `${'x'.repeat(257)}`, 'key 1 of 1 has 257 characters; a key must have 16 to 256'],
    [
      'a bad character',
      'secret key with spaces!',
      'key 1 of 1 holds a character other than A-Z a-z 0-9 . _ ~ + / = -',
    ],
    ['an empty entry', 'good-key-0123456789,', 'key 2 of 2 is empty (remove the extra comma)'],
  ])('refuses %s in API_KEYS without echoing any key', (_what, value, message) => {
    let thrown: unknown;
    try {
      loadApiConfig({ API_KEYS: value });
    } catch (err) {
      thrown = err;
    }
    expect(isTrainyardError(thrown)).toBe(true);
    expect((thrown as { code: string }).code).toBe('TRAINYARD_ERR_CONFIG_INVALID');
    expect((thrown as Error).message).toBe(`invalid configuration: API_KEYS: ${message}`);
    const everything = JSON.stringify({
      thrown,
      stack: (thrown as Error).stack,
      details: (thrown as { details: unknown }).details,
    });
    for (const key of value.split(',').filter((k) => k.length > 0)) {
      expect(everything).not.toContain(key.trim());
    }
  });
});
