import { describe, expect, it } from 'vitest';
import { readSseBody, SseParser } from './sse.js';

/**
 * Proves the SSE parser (used by the CLI and the devkit) reads what the api sends (and what the format allows),
 * however the bytes are cut into chunks: comments skipped, data lines joined, ids kept,
 * CRLF/CR/LF line ends, and an unfinished message at the end dropped.
 */

const STREAM =
  'retry: 2000\n\n' +
  'id: 1-0\nevent: state\ndata: {"type":"state","state":"QUEUED"}\n\n' +
  ': ping\n\n' +
  'id: 2-0\r\nevent: log\r\ndata: line one\r\ndata:line two\r\n\r\n' +
  'data: no id or event here\r\r' +
  'event: empty\n\n' +
  'id: 3-0\ndata: cut off';

const EXPECTED = [
  { id: '1-0', event: 'state', data: '{"type":"state","state":"QUEUED"}' },
  { id: '2-0', event: 'log', data: 'line one\nline two' },
  // The id persists, as an EventSource keeps its last event id; the type defaults to "message".
  { id: '2-0', event: 'message', data: 'no id or event here' },
];

describe('SseParser', () => {
  it('parses a whole stream at once', () => {
    const parser = new SseParser();
    expect(parser.push(STREAM)).toEqual(EXPECTED);
    expect(parser.retryMs).toBe(2000);
  });

  it('gives the same messages whatever the chunk boundaries', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const parser = new SseParser();
      const got = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut))];
      expect(got, `cut at ${cut}`).toEqual(EXPECTED);
    }
    const parser = new SseParser();
    expect([...STREAM].flatMap((ch) => parser.push(ch))).toEqual(EXPECTED);
  });

  it('decodes UTF-8 split across byte chunks (readSseBody)', async () => {
    const bytes = new TextEncoder().encode('data: ⏎ é ✓\n\n');
    async function* chunks() {
      for (const b of bytes) yield new Uint8Array([b]);
    }
    const got = [];
    for await (const m of readSseBody(chunks())) got.push(m);
    expect(got).toEqual([{ id: null, event: 'message', data: '⏎ é ✓' }]);
  });
});
