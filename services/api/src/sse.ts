/**
 * Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * Each field value is one line; a value that holds line breaks is split over several
 * `data:` lines, which the client joins with "\n".
 */

export const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Ask nginx-style proxies not to buffer the stream.
  'x-accel-buffering': 'no',
});

export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

function singleLine(field: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`SSE ${field} must be one line`);
  return value;
}

export function formatSseMessage(message: SseMessage): string {
  let out = '';
  if (message.id !== undefined) out += `id: ${singleLine('id', message.id)}\n`;
  if (message.event !== undefined) out += `event: ${singleLine('event', message.event)}\n`;
  for (const line of message.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

export function formatSseComment(text: string): string {
  return `: ${singleLine('comment', text)}\n\n`;
}

/** Tells the client how long to wait before reconnecting. */
export function formatSseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}

/** A parsed SSE message, for clients and tests. */
export interface ParsedSseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Parses complete SSE messages out of `buffer`; returns them and the unparsed rest.
 * Comments and `retry:` lines are skipped.
 */
export function parseSseMessages(buffer: string): { messages: ParsedSseMessage[]; rest: string } {
  const messages: ParsedSseMessage[] = [];
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const data: string[] = [];
    const msg: ParsedSseMessage = { data: '' };
    let hasField = false;
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') {
        data.push(value);
        hasField = true;
      } else if (field === 'id') {
        msg.id = value;
        hasField = true;
      } else if (field === 'event') {
        msg.event = value;
        hasField = true;
      }
    }
    if (!hasField) continue;
    msg.data = data.join('\n');
    messages.push(msg);
  }
  return { messages, rest };
}
