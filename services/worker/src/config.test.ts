import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';

describe('worker config', () => {
  it('applies defaults and freezes the result', () => {
    const config = loadWorkerConfig({ WORKER_ID: 'w0' });
    expect(config).toMatchObject({
      WORKER_ID: 'w0',
      REDIS_URL: 'redis://127.0.0.1:6379',
      TRAINYARD_BACKEND: 'auto',
      HEARTBEAT_MS: 1000,
      HEARTBEAT_TTL_MS: 5000,
      METRICS_PORT: 0,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats an empty variable as unset, and refuses a heartbeat TTL under two intervals', () => {
    expect(loadWorkerConfig({ WORKER_ID: 'w0', METRICS_PORT: '', HEARTBEAT_MS: ' ' }).METRICS_PORT).toBe(0);
    expect(loadWorkerConfig({ WORKER_ID: 'w0', HEARTBEAT_MS: '' }).HEARTBEAT_MS).toBe(1000);
    expect(() =>
      loadWorkerConfig({ WORKER_ID: 'w0', HEARTBEAT_MS: '1000', HEARTBEAT_TTL_MS: '1500' }),
    ).toThrow('invalid configuration: HEARTBEAT_TTL_MS: must be at least twice HEARTBEAT_MS');
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      loadWorkerConfig({
        REDIS_URL: 'http://x',
        TRAINYARD_BACKEND: 'gpu',
        HEARTBEAT_MS: '-5',
        WORKER_ID: 'a b',
      }),
    ).toThrow(
      'invalid configuration: REDIS_URL: must be a redis:// or rediss:// URL; WORKER_ID: may hold letters, digits, _ . - only (1-128); ' +
        'TRAINYARD_BACKEND: Invalid option: expected one of "auto"|"tensorflow"|"wasm"|"cpu"; HEARTBEAT_MS: Too small: expected number to be >0',
    );
  });
});
