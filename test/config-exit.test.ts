// A bad setting stops a service at start with exit 1 and one line naming the service, the
// error code and every bad variable, with no stack trace (docs/configuration.md).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@trainyard/devkit';
import { describe, expect, it } from 'vitest';

const cases: [service: string, env: Record<string, string>, names: string[]][] = [
  ['api', { API_KEYS: 'short', API_PORT: '99999' }, ['API_KEYS', 'API_PORT']],
  ['scheduler', { SCHEDULER_LEASE_MS: '10', REDIS_URL: 'http://nope' }, ['SCHEDULER_LEASE_MS', 'REDIS_URL']],
  [
    'worker',
    { S3_PART_SIZE_BYTES: '10', METRICS_JOB_LINGER_MS: '-1' },
    ['S3_PART_SIZE_BYTES', 'METRICS_JOB_LINGER_MS'],
  ],
];

describe('services refuse a bad configuration cleanly', () => {
  it.each(cases)('%s', (service, env, names) => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, `services/${service}/src/main.ts`)],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^trainyard ${service}: TRAINYARD_ERR_CONFIG_INVALID: invalid configuration: `),
    );
    for (const name of names) expect(lines[0]).toContain(`${name}:`);
    expect(run.stderr).not.toContain('short'); // a key is never echoed
  });
});
