import type { JobEvent, JobRecord } from '@trainyard/core';
import type { WorkerView } from './client.js';

/**
 * Human output: one line per job event, and plain-text tables. Epochs are shown counting
 * from 1 (`epoch 1/5` is the first), while the api's JSON counts them from 0.
 */

function oneLine(text: string): string {
  return text.replace(/\r\n|\r|\n/g, ' ⏎ ');
}

function time(ts: unknown): string {
  // `2026-12-03T16:51:28.774Z` -> `16:51:28.774Z` (UTC); anything else as it is.
  return typeof ts === 'string' && /^\d{4}-\d\d-\d\dT/.test(ts) ? ts.slice(11) : String(ts ?? '-');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m < 60
    ? `${m}m${String(s).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The text of one event, without its time and kind. */
function describe(event: JobEvent): { kind: string; text: string } {
  switch (event.type) {
    case 'state': {
      const reason = event.reason ? `: ${oneLine(event.reason)}` : '';
      // A RESTARTING state is a restart: the generation failed and the job goes on as the next one.
      const kind = event.state === 'RESTARTING' ? 'restart' : 'state';
      return { kind, text: `${event.state} (generation ${event.generation})${reason}` };
    }
    case 'progress': {
      const p = event.progress;
      return {
        kind: 'progress',
        text:
          `epoch ${p.epoch + 1}/${p.epochs}  step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  ` +
          `${p.samples} samples  ${p.samplesPerSec.toFixed(1)} samples/s  eta ${formatSeconds(p.etaSeconds)}`,
      };
    }
    case 'checkpoint': {
      const c = event.checkpoint;
      return {
        kind: 'checkpoint',
        text: `step ${c.step} (epoch ${c.epoch + 1}), ${formatBytes(c.bytes)}, ${c.manifestKey}`,
      };
    }
    case 'log':
      return { kind: 'log', text: `[${event.level}] ${oneLine(event.message)}` };
    default: {
      const other = event as { type?: unknown };
      return { kind: String(other.type ?? 'event'), text: oneLine(JSON.stringify(event)) };
    }
  }
}

/** `16:51:29.101Z  state       PLACED (generation 1)` */
export function formatEvent(event: JobEvent): string {
  const { kind, text } = describe(event);
  return `${time((event as { ts?: unknown }).ts)}  ${kind.padEnd(10)}  ${text}`;
}

/** A one-line verdict on an ended job: its evaluation or its error. */
export function formatOutcome(job: JobRecord): string {
  if (job.state === 'SUCCEEDED' && job.evaluation) {
    const e = job.evaluation;
    return `job ${job.id} SUCCEEDED: test accuracy ${e.accuracy.toFixed(4)}, loss ${e.loss.toFixed(4)} (${e.samples} samples)`;
  }
  if (job.state === 'FAILED' && job.error) {
    return `job ${job.id} FAILED: ${job.error.code}: ${oneLine(job.error.message)}`;
  }
  return `job ${job.id} ${job.state}`;
}

/** Left-aligned columns separated by two spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function jobsTable(jobs: readonly JobRecord[]): string {
  return table(
    ['ID', 'STATE', 'NAME', 'PROGRESS', 'CREATED'],
    jobs.map((j) => [
      j.id,
      j.state,
      j.spec?.name ?? '-',
      j.progress
        ? `epoch ${j.progress.epoch + 1}/${j.progress.epochs} step ${j.progress.step}/${j.progress.totalSteps}`
        : '-',
      j.createdAt,
    ]),
  );
}

export function workersTable(workers: readonly WorkerView[]): string {
  return table(
    ['WORKER', 'STATE', 'BACKEND', 'SLOTS', 'RUNNING', 'LAST HEARTBEAT'],
    workers.map((w) => [
      w.workerId,
      w.state,
      w.backend ? `${w.backend.name}${w.backend.gpu ? ` (${w.backend.gpu})` : ''}` : '-',
      w.slots === undefined ? '-' : String(w.slots),
      w.running ?? '-',
      w.lastHeartbeat ?? '-',
    ]),
  );
}
