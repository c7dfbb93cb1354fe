import type { ServerResponse } from 'node:http';
import {
  type EventEntry,
  isTerminal,
  type JobEvent,
  type JobStore,
  type Logger,
  type Redis,
} from '@trainyard/core';
import { formatSseComment, formatSseMessage, formatSseRetry, SSE_HEADERS } from './sse.js';

/**
 * One client's Server-Sent Events stream of one job's events. It reads the job's Redis
 * stream after `afterId` on a connection of its own (blocking reads), writes each entry as
 * `id: <stream id>` / `event: <type>` / `data: <event JSON>`, sends `: ping` comments every
 * `heartbeatMs`, and ends once the job has reached a terminal state and every event is
 * sent. `close()` is idempotent: it stops the loop, disconnects the connection and ends
 * the response; it runs when the client hangs up, when the stream ends, and at shutdown.
 */

export type JobEventStreamState = 'idle' | 'streaming' | 'closed';

export interface JobEventStreamOptions {
  readonly jobId: string;
  /** Stream id to resume after; `0` replays from the start. */
  readonly afterId: string;
  readonly store: JobStore;
  /** A connection for this stream only: blocking reads hold it. Disconnected by close(). */
  readonly connection: Redis;
  readonly response: ServerResponse;
  readonly logger: Pick<Logger, 'debug' | 'warn'>;
  readonly heartbeatMs: number;
  /** Longest blocking read; after each quiet read the stream checks whether the job ended. */
  readonly blockMs: number;
  /** Reconnect delay suggested to the client (`retry:`). */
  readonly retryMs?: number;
  /** Events per read. */
  readonly batch?: number;
  /** Called once the response head is written. */
  readonly onStarted?: () => void;
}

/** Grace for a response to flush at close before its socket is destroyed. */
const END_GRACE_MS = 1_000;

export function isTerminalEvent(event: JobEvent): boolean {
  return event.type === 'state' && isTerminal(event.state);
}

function eventName(event: JobEvent): string {
  const type: unknown = (event as { type?: unknown }).type;
  return typeof type === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(type) ? type : 'message';
}

export class JobEventStream {
  private stateValue: JobEventStreamState = 'idle';
  private heartbeat: NodeJS.Timeout | null = null;
  private lastIdValue: string;
  private closing: Promise<void> | null = null;
  private sent = 0;

  constructor(private readonly options: JobEventStreamOptions) {
    this.lastIdValue = options.afterId;
  }

  get state(): JobEventStreamState {
    return this.stateValue;
  }

  /** Stream id of the last event sent. */
  get lastId(): string {
    return this.lastIdValue;
  }

  /** Streams until the job has ended and its events are drained, the client leaves, or close(). Never throws. */
  async run(): Promise<void> {
    if (this.stateValue !== 'idle') throw new Error(`event stream already ${this.stateValue}`);
    const { response, connection, logger } = this.options;
    this.stateValue = 'streaming';
    connection.on('error', (err: Error) => logger.debug({ err }, 'event stream connection error'));
    response.once('close', () => void this.close());
    response.writeHead(200, SSE_HEADERS);
    response.write(formatSseRetry(this.options.retryMs ?? 2_000));
    this.options.onStarted?.();
    this.heartbeat = setInterval(() => this.writeNow(formatSseComment('ping')), this.options.heartbeatMs);
    try {
      await this.pump();
    } catch (err) {
      if (this.stateValue === 'streaming')
        logger.warn({ err, lastId: this.lastIdValue }, 'event stream failed');
    } finally {
      await this.close();
    }
  }

  private async pump(): Promise<void> {
    const { store, jobId, connection, blockMs } = this.options;
    const count = this.options.batch ?? 500;
    let ending = false;
    let block = false;
    while (this.stateValue === 'streaming') {
      const entries: EventEntry[] = await store.readEvents(
        jobId,
        this.lastIdValue,
        block ? { count, blockMs, connection } : { count, connection },
      );
      if (this.stateValue !== 'streaming') return;
      for (const entry of entries) {
        await this.send(entry);
        if (this.stateValue !== 'streaming') return;
        if (isTerminalEvent(entry.event)) ending = true;
      }
      if (entries.length > 0) {
        block = !ending;
        continue;
      }
      if (ending) return;
      // Nothing new: the job may have ended before the resume point, or been removed.
      const now = await store.getState(jobId);
      if (now === null || isTerminal(now.state)) ending = true;
      block = !ending;
    }
  }

  private async send(entry: EventEntry): Promise<void> {
    const chunk = formatSseMessage({
      id: entry.id,
      event: eventName(entry.event),
      data: JSON.stringify(entry.event),
    });
    this.lastIdValue = entry.id;
    this.sent += 1;
    if (this.writeNow(chunk)) return;
    // Back-pressure: wait until the client has read, or gone.
    const { response } = this.options;
    await new Promise<void>((resolve) => {
      const done = () => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
  }

  /** Writes unless the response is over; returns false when the caller should wait for 'drain'. */
  private writeNow(chunk: string): boolean {
    const { response } = this.options;
    if (response.writableEnded || response.destroyed) return true;
    return response.write(chunk);
  }

  /** Stops the stream; safe to call any number of times, from any state. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.stateValue = 'closed';
    const { response, connection, logger } = this.options;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    // disconnect(), not quit(): quit would wait behind a blocked XREAD.
    try {
      connection.disconnect();
    } catch (err) {
      logger.debug({ err }, 'event stream connection disconnect failed');
    }
    if (!response.writableEnded && !response.destroyed) {
      if (!response.headersSent) response.writeHead(200, SSE_HEADERS);
      response.end();
      const force = setTimeout(() => response.destroy(), END_GRACE_MS);
      force.unref();
      response.once('close', () => clearTimeout(force));
    }
    logger.debug({ sent: this.sent, lastId: this.lastIdValue }, 'event stream closed');
  }
}
