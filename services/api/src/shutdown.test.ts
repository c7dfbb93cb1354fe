import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAppWithGrace, createShutdown } from './shutdown.js';
import { type ApiFixture, apiFixture, validSpec } from './test-support.js';

const silent = { info: () => {}, error: () => {} };

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
      { info: () => {}, error: (obj: unknown) => void errors.push(obj) },
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

describe('closeAppWithGrace', () => {
  let fx: ApiFixture | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('does not wait past the grace period for connections left open after a client aborted', async () => {
    fx = await apiFixture({ sseBlockMs: 10_000 });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
    const created = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(validSpec()),
    });
    const { id } = (await created.json()) as { id: string };
    const abort = new AbortController();
    const stream = await fetch(`${base}/v1/jobs/${id}/events`, { signal: abort.signal });
    await stream.body!.getReader().read();
    abort.abort();
    await new Promise((r) => setTimeout(r, 50));
    await (await fetch(`${base}/healthz`)).text(); // a keep-alive connection, idle from here on

    const started = Date.now();
    await closeAppWithGrace(fx.app, 300);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
