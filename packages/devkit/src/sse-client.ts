import { readSseBody, type SseMessage } from '@trainyard/core';

export type { SseMessage };

/**
 * Reads a Server-Sent Events response until the server ends it (or `signal` aborts),
 * calling `onMessage` for each event, with core's parser (comments such as `: ping` skipped).
 */
export async function readSse(
  url: string,
  onMessage: (msg: SseMessage) => void | Promise<void>,
  options: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<void> {
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...options.headers },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!res.ok || !res.body) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  for await (const message of readSseBody(res.body as AsyncIterable<Uint8Array>)) await onMessage(message);
}
