/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream format, as the api's
 * `GET /v1/jobs/:id/events` sends it): feed it text as it arrives, in chunks cut anywhere,
 * and it returns each complete message. Lines end in LF, CRLF or CR; `:` lines are
 * comments (the api's `: ping`); several `data:` lines join with "\n"; a message without
 * data is not dispatched; `id:` persists until changed, as an EventSource keeps it.
 */

export interface SseMessage {
  /** The last event id seen (this message's, or an earlier one's); null before any. */
  readonly id: string | null;
  /** `event:` field, or `message` when absent. */
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private hasData = false;
  private eventType = '';
  private lastId: string | null = null;
  /** The reconnection delay the server asked for (`retry:`), if any. */
  retryMs: number | null = null;

  /** Parses `chunk` (text, any length); returns the messages it completes. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== '\n' && ch !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (ch === '\r' && i === this.buffer.length - 1) break;
      const line = this.buffer.slice(start, i);
      if (ch === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
      const message = this.line(line);
      if (message) out.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    const message = this.hasData
      ? {
          id: this.lastId,
          event: this.eventType === '' ? 'message' : this.eventType,
          data: this.data.join('\n'),
        }
      : null;
    this.data = [];
    this.hasData = false;
    this.eventType = '';
    return message;
  }
}

/** Reads a response body of SSE to its end, yielding each message. */
export async function* readSseBody(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  const parser = new SseParser();
  for await (const chunk of body) {
    yield* parser.push(decoder.decode(chunk, { stream: true }));
  }
  // A stream that ends mid-message drops that message, as an EventSource does.
  parser.push(decoder.decode());
}
