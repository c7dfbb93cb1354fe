import type { AddressInfo } from 'node:net';
import type { JobEvent, JobRecord, Redis } from '@trainyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../app.js';
import type { ErrorBody } from '../error-handler.js';
import { type ParsedSseMessage, parseSseMessages } from '../sse.js';
import { type ApiFixture, apiFixture, validSpec } from '../test-support.js';

/** SSE over a real socket, read with fetch. */

const fixtures: ApiFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
});

async function listening(overrides: Partial<ApiDeps> = {}): Promise<{ fx: ApiFixture; base: string }> {
  const fx = await apiFixture({ sseBlockMs: 200, ...overrides });
  fixtures.push(fx);
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = fx.app.server.address() as AddressInfo;
  return { fx, base: `http://127.0.0.1:${port}` };
}

async function submitJob(base: string): Promise<JobRecord> {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(validSpec()),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as JobRecord;
}

/** An open SSE response, read message by message. */
class SseClient {
  readonly messages: ParsedSseMessage[] = [];
  raw = '';
  ended = false;
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    this.reader = response.body!.getReader();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    return new SseClient(response, abort);
  }

  /** Reads until `done(messages)` holds or the stream ends; fails after `timeoutMs`. */
  async readUntil(
    done: (messages: ParsedSseMessage[]) => boolean,
    timeoutMs = 5_000,
  ): Promise<ParsedSseMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.messages) && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.messages)}`);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), left);
      });
      const chunk = await Promise.race([this.reader.read(), timeout]);
      clearTimeout(timer);
      if (chunk === 'timeout') continue;
      if (chunk.done) {
        this.ended = true;
        break;
      }
      const text = this.decoder.decode(chunk.value, { stream: true });
      this.raw += text;
      this.buffer += text;
      const { messages, rest } = parseSseMessages(this.buffer);
      this.buffer = rest;
      this.messages.push(...messages);
    }
    return this.messages;
  }

  /** Reads to the end of the stream. */
  async readToEnd(timeoutMs = 5_000): Promise<ParsedSseMessage[]> {
    return this.readUntil(() => false, timeoutMs).catch((err: Error) => {
      throw new Error(`stream did not end: ${err.message}`);
    });
  }

  close(): void {
    this.abort.abort();
  }
}

const data = (m: ParsedSseMessage) => JSON.parse(m.data) as JobEvent;
const stateOf = (m: ParsedSseMessage) => {
  const e = data(m);
  return e.type === 'state' ? e.state : e.type;
};

describe('GET /v1/jobs/:id/events', () => {
  it('replays from the start, streams new events live, and ends after a terminal state', async () => {
    const { fx, base } = await listening();
    const job = await submitJob(base);
    const client = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(client.response.headers.get('cache-control')).toContain('no-cache');

    const [first] = await client.readUntil((m) => m.length >= 1);
    expect(first?.event).toBe('state');
    expect(data(first!)).toMatchObject({ type: 'state', state: 'QUEUED', generation: 0 });

    await fx.store.change(job.id, { to: 'PLACED' });
    await fx.store.appendEvent(job.id, {
      type: 'log',
      ts: new Date().toISOString(),
      generation: 0,
      level: 'info',
      message: 'multi\nline',
    });
    await fx.store.change(job.id, { to: 'RUNNING' });
    await fx.store.change(job.id, { to: 'SUCCEEDED' });

    const all = await client.readToEnd();
    expect(client.ended).toBe(true);
    expect(all.map((m) => m.event)).toEqual(['state', 'state', 'log', 'state', 'state']);
    expect(all.map(stateOf)).toEqual(['QUEUED', 'PLACED', 'log', 'RUNNING', 'SUCCEEDED']);
    expect(data(all[2]!)).toMatchObject({ type: 'log', message: 'multi\nline' });
    // Each message's id is its stream entry id.
    const stored = await fx.store.readEvents(job.id, '0');
    expect(all.map((m) => m.id)).toEqual(stored.map((e) => e.id));
    expect(all.map(data)).toEqual(stored.map((e) => e.event));
  });

  it('resumes after Last-Event-ID, which wins over ?after=', async () => {
    const { fx, base } = await listening();
    const job = await submitJob(base);
    await fx.store.change(job.id, { to: 'PLACED' });
    await fx.store.change(job.id, { to: 'RUNNING' });
    const [queued, placed, running] = await fx.store.readEvents(job.id, '0');

    const byHeader = await SseClient.open(`${base}/v1/jobs/${job.id}/events?after=${queued!.id}`, {
      'last-event-id': placed!.id,
    });
    const fromHeader = await byHeader.readUntil((m) => m.length >= 1);
    expect(fromHeader.map((m) => m.id)).toEqual([running!.id]);

    const byQuery = await SseClient.open(`${base}/v1/jobs/${job.id}/events?after=${queued!.id}`);
    const fromQuery = await byQuery.readUntil((m) => m.length >= 2);
    expect(fromQuery.map((m) => m.id)).toEqual([placed!.id, running!.id]);

    await fx.store.change(job.id, { to: 'CANCELLED', from: ['RUNNING'], reason: 'test' });
    const rest = await byHeader.readToEnd();
    expect(rest.map(stateOf)).toEqual(['RUNNING', 'CANCELLED']);
    expect((await byQuery.readToEnd()).map(stateOf)).toEqual(['PLACED', 'RUNNING', 'CANCELLED']);
  });

  it('ends at once when resuming past the terminal event of an ended job', async () => {
    const { fx, base } = await listening({ sseBlockMs: 10_000 });
    const job = await submitJob(base);
    await fx.store.change(job.id, { to: 'FAILED', from: ['QUEUED'] });
    const events = await fx.store.readEvents(job.id, '0');
    const started = Date.now();
    const client = await SseClient.open(`${base}/v1/jobs/${job.id}/events`, {
      'last-event-id': events.at(-1)!.id,
    });
    expect(await client.readToEnd()).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);

    // A full replay of the ended job ends too, with every event.
    const replay = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    expect((await replay.readToEnd()).map(stateOf)).toEqual(['QUEUED', 'FAILED']);
  });

  it('sends comment heartbeats while the job is quiet', async () => {
    const { base } = await listening({ sseHeartbeatMs: 50 });
    const job = await submitJob(base);
    const client = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    await client.readUntil(() => (client.raw.match(/^: ping$/gm) ?? []).length >= 2);
    expect(client.messages).toHaveLength(1); // comments are not messages
    client.close();
  });

  it('gives each client a connection of its own, closed when the client leaves', async () => {
    const opened: Redis[] = [];
    let fx!: ApiFixture;
    const { base, fx: built } = await listening({
      openEventsConnection: () => {
        const conn = fx.redis.duplicate();
        opened.push(conn);
        return conn;
      },
    });
    fx = built;
    const job = await submitJob(base);
    const a = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    const b = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    await a.readUntil((m) => m.length >= 1);
    await b.readUntil((m) => m.length >= 1);
    expect(opened).toHaveLength(2);
    expect(opened[0]).not.toBe(opened[1]);

    a.close();
    await waitFor(() => opened[0]!.status === 'end');
    expect(opened[1]!.status).toBe('ready');

    // The other client still streams.
    await fx.store.change(job.id, { to: 'CANCELLED', from: ['QUEUED'] });
    expect((await b.readToEnd()).map(stateOf)).toEqual(['QUEUED', 'CANCELLED']);
    await waitFor(() => opened[1]!.status === 'end');
  });

  it('app.close() ends open streams instead of hanging', async () => {
    const { fx, base } = await listening({ sseBlockMs: 10_000 });
    const job = await submitJob(base);
    const client = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    await client.readUntil((m) => m.length >= 1);
    const started = Date.now();
    await fx.app.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await client.readToEnd();
    expect(client.ended).toBe(true);
  });

  it('answers 404 in JSON for an unknown job, before any streaming', async () => {
    const { base } = await listening();
    const res = await fetch(`${base}/v1/jobs/job-missing/events`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as ErrorBody).error.code).toBe('TRAINYARD_ERR_JOB_NOT_FOUND');
  });

  it.each([
    ['Last-Event-ID', { 'last-event-id': 'abc' }, ''],
    ['after', {}, '?after=1-2-3'],
    ['Last-Event-ID', { 'last-event-id': '99999999999999999999-0' }, ''],
    ['after', {}, '?after=1-18446744073709551616'],
    ['from', {}, '?from=0'],
  ])('answers 400 REQUEST_INVALID for a bad %s', async (path, headers, query) => {
    const { fx, base } = await listening();
    const job = await submitJob(base);
    const res = await fx.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/events${query}`, headers });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_REQUEST_INVALID');
    expect(body.error.issues?.[0]?.path).toBe(path);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('HEAD /v1/jobs/:id/events', () => {
  it('is not routed (it would open a stream with no body)', async () => {
    const { fx, base } = await listening();
    const job = await submitJob(base);
    const res = await fx.app.inject({ method: 'HEAD', url: `/v1/jobs/${job.id}/events` });
    expect(res.statusCode).toBe(404);
  });
});

describe('metrics of a stream', () => {
  it('counts the stream once and times it to its first byte, not to its end', async () => {
    const { fx, base } = await listening();
    const job = await submitJob(base);
    const client = await SseClient.open(`${base}/v1/jobs/${job.id}/events`);
    await client.readUntil((m) => m.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    await fx.store.change(job.id, { to: 'CANCELLED', from: ['QUEUED'] });
    await client.readToEnd();
    await new Promise((r) => setTimeout(r, 50));
    const text = await (await fetch(`${base}/metrics`)).text();
    const sample = (name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name}{`) && l.includes('route="/v1/jobs/:id/events"'))
          ?.split(' ')
          .at(-1),
      );
    expect(sample('trainyard_api_http_requests_total')).toBe(1);
    expect(sample('trainyard_api_http_request_duration_seconds_count')).toBe(1);
    expect(sample('trainyard_api_http_request_duration_seconds_sum')).toBeLessThan(0.4);
  });
});
