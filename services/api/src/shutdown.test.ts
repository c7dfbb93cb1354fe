import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAppWithGrace } from './shutdown.js';
import { type ApiFixture, apiFixture, validSpec } from './test-support.js';

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
