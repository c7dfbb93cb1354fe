import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from './config.js';

describe('scheduler config', () => {
  it('applies defaults (a 10 s leader lease, <hostname>-<pid> as holder id) and freezes the result', () => {
    const config = loadSchedulerConfig({});
    expect(config).toMatchObject({
      SCHEDULER_TICK_MS: 1000,
      SCHEDULER_LEASE_MS: 10_000,
      SCHEDULER_ID: `${hostname()}-${process.pid}`,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadSchedulerConfig({ SCHEDULER_LEASE_MS: '1000', SCHEDULER_ID: 'sched-a' })).toMatchObject({
      SCHEDULER_LEASE_MS: 1000,
      SCHEDULER_ID: 'sched-a',
    });
  });

  it('refuses a lease under 1000 ms and a holder id that is not a safe id', () => {
    expect(() => loadSchedulerConfig({ SCHEDULER_LEASE_MS: '999', SCHEDULER_ID: 'a b' })).toThrow(
      'invalid configuration: SCHEDULER_LEASE_MS: must be at least 1000; ' +
        'SCHEDULER_ID: may hold letters, digits, _ . - only (1-128)',
    );
  });
});
