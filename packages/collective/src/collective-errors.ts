import { Errors, TrainyardError } from '@trainyard/core';

/** Which operation of which rank an error is about: `allReduce #3 rank 1/4`. */
export interface OpLabel {
  readonly op: string;
  readonly seq: number;
  readonly rank: number;
  readonly world: number;
}

export function formatLabel(label: OpLabel): string {
  return `${label.op} #${label.seq} rank ${label.rank}/${label.world}`;
}

/**
 * COLLECTIVE_TIMEOUT: `<op> #<seq> rank r/W: waited Nms for ranks [..] (<what>)`, or, when no
 * rank is awaited (Redis itself did not acknowledge a write), `… waited Nms for <what>`.
 */
export function timeoutError(
  label: OpLabel,
  waitedMs: number,
  ranks: readonly number[],
  what: string,
  note = '',
): TrainyardError {
  return new TrainyardError(
    Errors.COLLECTIVE_TIMEOUT,
    `${formatLabel(label)}: waited ${Math.round(waitedMs)}ms for ` +
      `${ranks.length > 0 ? `ranks [${ranks.join(',')}] (${what})` : what}${note}`,
    { details: { ...label, waitedMs: Math.round(waitedMs), ranks: [...ranks] } },
  );
}

export function abortedError(label: OpLabel | null, reason: string, cause?: unknown): TrainyardError {
  const where = label ? `${formatLabel(label)}: ` : '';
  return new TrainyardError(Errors.COLLECTIVE_ABORTED, `${where}${reason}`, {
    cause,
    ...(label ? { details: { ...label } } : {}),
  });
}

export function mismatchError(label: OpLabel, detail: string): TrainyardError {
  return new TrainyardError(Errors.COLLECTIVE_MISMATCH, `${formatLabel(label)}: ${detail}`, {
    details: { ...label },
  });
}
