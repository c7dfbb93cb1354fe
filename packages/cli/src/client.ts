import type { JobEvent, JobRecord } from '@trainyard/core';
import { readSseBody, type SseMessage } from '@trainyard/core';

/**
 * A small client of the Trainyard api (docs/api.md) on Node's fetch. Every failure is one
 * of two errors: `ApiError` (the api answered with an error: its code, message and issues,
 * or a non-api answer such as a proxy's 502) or `ConnectionError` (nothing answered at the
 * URL, or not in time). The API key is sent as `Authorization: Bearer <key>` and never
 * appears in an error.
 */

export interface ApiIssue {
  readonly path: string;
  readonly message: string;
}

/** The api answered with an error. `code` is a TRAINYARD_ERR_* code, or `HTTP_<status>` for a non-api answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
    readonly details: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Nothing answered at the api's URL (refused, unknown host, reset, timed out). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the api at ${url}: ${reason}`);
    this.name = 'ConnectionError';
  }
}

export interface WorkerView {
  readonly workerId: string;
  readonly host?: string;
  readonly slots?: number;
  readonly backend?: { readonly name: string; readonly version?: string; readonly gpu?: string | null };
  readonly state: string;
  readonly running: string | null;
  readonly lastHeartbeat: string | null;
  readonly assignment?: string | null;
}

export interface ApiClientOptions {
  /** e.g. `http://127.0.0.1:8080`, or a prefix behind a proxy (`https://host/trainyard`). */
  readonly baseUrl: string;
  readonly apiKey?: string | undefined;
  /** Deadline of each request but event streams (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * An event stream that sends nothing for this long is dropped (ConnectionError, so `watch`
   * resumes it): a half-open connection would otherwise wait forever. Default 45 s, three of
   * the api's 15 s pings.
   */
  readonly streamIdleMs?: number;
  readonly fetch?: typeof fetch;
}

/** Why fetch failed, from the error Node's fetch throws (`TypeError: fetch failed` with a cause). */
function connectionReason(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'TimeoutError' ? 'no answer in time' : 'aborted';
  }
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function isApiErrorBody(value: unknown): value is {
  error: { code: string; message: string; issues?: ApiIssue[]; details?: unknown };
} {
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey === '' ? undefined : options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.streamIdleMs = options.streamIdleMs ?? 45_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  private url(path: string, query: Record<string, string | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs === '' ? '' : `?${qs}`}`;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json',
      ...(this.apiKey === undefined ? {} : { authorization: `Bearer ${this.apiKey}` }),
      ...extra,
    };
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchFn(url, init);
    } catch (err) {
      throw new ConnectionError(this.baseUrl, connectionReason(err));
    }
  }

  /** Turns a non-2xx answer into an ApiError (the api's envelope, or what a proxy said). */
  private async failure(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isApiErrorBody(parsed)) {
      const { code, message, issues, details } = parsed.error;
      return new ApiError(res.status, code, message, Array.isArray(issues) ? issues : [], details);
    }
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    const what = `${res.status} ${res.statusText}`.trim();
    return new ApiError(
      res.status,
      `HTTP_${res.status}`,
      `the server at ${this.baseUrl} answered ${what}${snippet ? `: ${snippet}` : ''}`,
    );
  }

  private async json<T>(
    method: string,
    path: string,
    options: {
      query?: Record<string, string | undefined>;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; headers: Headers; body: T }> {
    const hasBody = options.body !== undefined;
    let res: Response;
    try {
      res = await this.send(this.url(path, options.query), {
        method,
        headers: this.headers({
          ...(hasBody ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        }),
        ...(hasBody ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw await this.failure(res);
      return { status: res.status, headers: res.headers, body: (await res.json()) as T };
    } catch (err) {
      if (err instanceof ApiError || err instanceof ConnectionError) throw err;
      // The body timed out or the connection dropped while reading it.
      throw new ConnectionError(this.baseUrl, connectionReason(err));
    }
  }

  /** `POST /v1/jobs`; `replayed` when an Idempotency-Key returned an existing job (200). */
  async submit(spec: unknown, idempotencyKey?: string): Promise<{ job: JobRecord; replayed: boolean }> {
    const res = await this.json<JobRecord>('POST', '/v1/jobs', {
      body: spec,
      headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey },
    });
    return { job: res.body, replayed: res.status === 200 };
  }

  async get(id: string): Promise<JobRecord> {
    return (await this.json<JobRecord>('GET', `/v1/jobs/${encodeURIComponent(id)}`)).body;
  }

  async list(query: { state?: string | undefined; limit?: string | undefined } = {}): Promise<JobRecord[]> {
    return (await this.json<{ jobs: JobRecord[] }>('GET', '/v1/jobs', { query })).body.jobs;
  }

  async cancel(id: string): Promise<JobRecord> {
    return (await this.json<JobRecord>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`)).body;
  }

  async workers(): Promise<WorkerView[]> {
    return (await this.json<{ workers: WorkerView[] }>('GET', '/v1/workers')).body.workers;
  }

  /**
   * `GET /v1/jobs/:id/events` after `afterId` (from the start when absent), yielding each
   * message until the server ends the stream. The request itself fails with
   * ApiError/ConnectionError; a connection that drops mid-stream throws ConnectionError.
   */
  async *events(
    id: string,
    options: { afterId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<SseMessage> {
    const url = this.url(`/v1/jobs/${encodeURIComponent(id)}/events`, { after: options.afterId });
    const idleMs = this.streamIdleMs;
    const idle = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    };
    async function* watched(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        touch();
        yield chunk;
      }
    }
    touch();
    try {
      const res = await this.send(url, {
        headers: this.headers({ accept: 'text/event-stream' }),
        signal: options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal,
      });
      if (!res.ok) throw await this.failure(res);
      if (!res.body) return;
      try {
        yield* readSseBody(watched(res.body as AsyncIterable<Uint8Array>));
      } catch (err) {
        const why = idle.signal.aborted
          ? `nothing arrived for ${idleMs / 1000} s; the api pings every 15 s`
          : connectionReason(err);
        throw new ConnectionError(this.baseUrl, `the event stream broke (${why})`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The job event in an SSE message (`data:` is the event's JSON). */
export function parseEvent(message: SseMessage): JobEvent {
  return JSON.parse(message.data) as JobEvent;
}
