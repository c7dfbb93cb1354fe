import type { Redis } from '@trainyard/core';
import { abortedError, type OpLabel, timeoutError } from './collective-errors.js';

/** Longest a single blocking command blocks, so the deadline and the abort signal are checked between slices. */
export const SLICE_MS = 1000;
/** How long past a slice we wait for Redis to answer before calling the connection dead. */
export const GRACE_MS = 2000;

/** What a wait waits for, for its timeout message. */
export interface WaitTarget {
  readonly label: OpLabel;
  /** e.g. `contributions to chunk 5`. */
  readonly what: string;
  /** The ranks still awaited, read when the deadline passes. */
  missing(): readonly number[];
}

/**
 * One step of a wait: issue ONE blocking command on `conn` that blocks at most `blockMs`
 * (BLMPOP, XREAD BLOCK), take what it returned, and say whether the wait is over.
 */
export type WaitStep = (conn: Redis, blockMs: number) => Promise<boolean>;

const GUARD = Symbol('guard');
const STOPPED = Symbol('stopped');

/**
 * The blocking side of a collective: one duplicate of the command connection, used by one
 * wait at a time. Every wait has a deadline of `timeoutMs` from its start, blocks in
 * slices of at most SLICE_MS, and ends at once when the signal aborts or `close()` runs
 * (the connection is then dropped, and a later wait opens a fresh one).
 */
export class BlockingWaits {
  #conn: Redis | null = null;
  #closed = false;
  readonly #stopListeners = new Set<() => void>();

  constructor(
    private readonly base: Redis,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly connectionName: string,
  ) {}

  /** Runs `step` until it reports done; throws COLLECTIVE_TIMEOUT at the deadline, COLLECTIVE_ABORTED on abort or close. */
  async until(target: WaitTarget, step: WaitStep): Promise<void> {
    const start = Date.now();
    const deadline = start + this.timeoutMs;
    for (;;) {
      this.throwIfStopped(target.label);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw timeoutError(target.label, Date.now() - start, target.missing(), target.what);
      const blockMs = Math.max(1, Math.min(SLICE_MS, remaining));
      const outcome = await this.#race(step(this.#connection(), blockMs), remaining + GRACE_MS);
      if (outcome === STOPPED) {
        this.#drop();
        this.throwIfStopped(target.label);
      } else if (outcome === GUARD) {
        this.#drop();
        throw timeoutError(
          target.label,
          Date.now() - start,
          target.missing(),
          target.what,
          '; Redis did not answer the blocking read',
        );
      } else if (outcome === true) {
        return;
      }
    }
  }

  /**
   * Awaits `work` (Redis acknowledging writes) within one deadline: COLLECTIVE_TIMEOUT naming
   * `what` if Redis does not answer in time (it queues commands while disconnected), and
   * COLLECTIVE_ABORTED at once on abort or close.
   */
  async acknowledged<T>(label: OpLabel, what: string, work: Promise<T>): Promise<T> {
    this.throwIfStopped(label);
    const start = Date.now();
    const outcome = await this.#race(work, this.timeoutMs);
    if (outcome === STOPPED) {
      this.throwIfStopped(label);
      throw abortedError(label, 'stopped');
    }
    if (outcome === GUARD) throw timeoutError(label, Date.now() - start, [], what);
    return outcome;
  }

  /** Throws COLLECTIVE_ABORTED when the signal has aborted or the waits are closed. */
  throwIfStopped(label: OpLabel | null): void {
    if (this.signal?.aborted) {
      const reason = this.signal.reason;
      const why =
        reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
      throw abortedError(label, `aborted: ${why}`, reason);
    }
    if (this.#closed) throw abortedError(label, 'the collective is closed');
  }

  /** Ends any wait in progress and drops the blocking connection. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const stop of this.#stopListeners) stop();
    this.#drop();
  }

  #connection(): Redis {
    if (!this.#conn) {
      const conn = this.base.duplicate({ connectionName: this.connectionName });
      conn.on('error', () => {}); // reported through the commands that fail
      this.#conn = conn;
    }
    return this.#conn;
  }

  /** A blocking command may still be running: drop its connection so it cannot consume later data. */
  #drop(): void {
    this.#conn?.disconnect();
    this.#conn = null;
  }

  #race<T>(work: Promise<T>, guardMs: number): Promise<T | typeof GUARD | typeof STOPPED> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onStop);
        this.#stopListeners.delete(onStop);
      };
      const onStop = () => {
        cleanup();
        resolve(STOPPED);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(GUARD);
      }, guardMs);
      this.signal?.addEventListener('abort', onStop, { once: true });
      this.#stopListeners.add(onStop);
      work.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });
  }
}
