import { Errors, type Redis, TrainyardError } from '@trainyard/core';

/** Default all-reduce chunk: 512 Ki float32 values = 2 MiB, the best of a sweep (docs/collective.md, "Chunk size"). */
export const DEFAULT_CHUNK_ELEMENTS = 524_288;
/** The least TTL of a collective key, whatever the deadline. */
export const MIN_TTL_MS = 60_000;

/** Prometheus objects a collective records into; both optional. */
export interface CollectiveMetrics {
  /** All-reduce bytes this rank sent to and received from Redis (`trainyard_collective_allreduce_bytes_total`, docs/metrics.md). */
  readonly bytes?: { inc(n?: number): void };
  /** All-reduce duration in seconds (`trainyard_collective_allreduce_duration_seconds`). */
  readonly seconds?: { observe(seconds: number): void };
}

export interface CollectiveOptions {
  /** Command connection (from core's `createRedis`). The collective duplicates it for its blocking waits and closes only that duplicate. */
  readonly redis: Redis;
  /** Key prefix of this (job, generation): `keys.collectiveGroup(jobId, generation)`. */
  readonly group: string;
  readonly rank: number;
  readonly world: number;
  /** Deadline of every wait, in milliseconds. */
  readonly timeoutMs: number;
  /** TTL of every key the collective creates; default max(2 × timeoutMs, 60 s). */
  readonly ttlMs?: number;
  /** All-reduce chunk size in float32 values; default 524288 (2 MiB). */
  readonly chunkElements?: number;
  /** Aborting it makes the wait in progress, and every later operation, fail with COLLECTIVE_ABORTED. */
  readonly signal?: AbortSignal;
  readonly metrics?: CollectiveMetrics;
}

/** Options checked and defaulted once; frozen. */
export interface CompiledCollectiveOptions {
  readonly redis: Redis;
  readonly group: string;
  readonly rank: number;
  readonly world: number;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly chunkElements: number;
  readonly signal: AbortSignal | undefined;
  readonly metrics: CollectiveMetrics;
}

function invalid(message: string): TrainyardError {
  return new TrainyardError(Errors.CONFIG_INVALID, `collective options: ${message}`);
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Checks and defaults collective options; throws CONFIG_INVALID naming the first bad field. */
export function compileCollectiveOptions(opts: CollectiveOptions): CompiledCollectiveOptions {
  if (opts.redis === undefined || opts.redis === null) throw invalid('redis is required');
  if (typeof opts.group !== 'string' || !/^[^\s{}]{1,200}$/.test(opts.group)) {
    throw invalid(
      `group must be 1-200 characters without spaces or braces, got ${JSON.stringify(opts.group)}`,
    );
  }
  const world = integer('world', opts.world, 1, 65_536);
  const rank = integer('rank', opts.rank, 0, world - 1);
  const timeoutMs = integer('timeoutMs', opts.timeoutMs, 1, 24 * 3_600_000);
  const ttlMs =
    opts.ttlMs === undefined
      ? Math.max(2 * timeoutMs, MIN_TTL_MS)
      : integer('ttlMs', opts.ttlMs, timeoutMs, 7 * 24 * 3_600_000);
  const chunkElements =
    opts.chunkElements === undefined
      ? DEFAULT_CHUNK_ELEMENTS
      : integer('chunkElements', opts.chunkElements, 1, 64 * 1024 * 1024);
  return Object.freeze({
    redis: opts.redis,
    group: opts.group,
    rank,
    world,
    timeoutMs,
    ttlMs,
    chunkElements,
    signal: opts.signal,
    metrics: Object.freeze({ ...opts.metrics }),
  });
}
