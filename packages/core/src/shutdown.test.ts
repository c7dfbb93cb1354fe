import { describe, expect, it } from 'vitest';
import { createShutdown } from './shutdown.js';

const silent = { info: () => {}, warn: () => {} };

describe('createShutdown', () => {
  it('runs every step once, in order, even when one fails', async () => {
    const ran: string[] = [];
    const errors: unknown[] = [];
    const shutdown = createShutdown(
      [
        { name: 'a', run: () => void ran.push('a') },
        {
          name: 'b',
          run: async () => {
            ran.push('b');
            throw new Error('b failed');
          },
        },
        { name: 'c', run: () => void ran.push('c') },
      ],
      { info: () => {}, warn: (obj: unknown) => void errors.push(obj) },
    );
    const first = shutdown('SIGTERM');
    const second = shutdown('SIGINT');
    expect(second).toBe(first);
    await first;
    await shutdown('again');
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(errors).toHaveLength(1);
  });

  it('resolves with no steps', async () => {
    await expect(createShutdown([], silent)('test')).resolves.toBeUndefined();
  });
});
