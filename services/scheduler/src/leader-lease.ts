import { performance } from 'node:perf_hooks';
import { type Logger, LuaScript, type Redis } from '@trainyard/core';

// KEYS: 1 lease key. ARGV: 1 holder id, 2 lease ms.
// Returns 1 when the lease is still ours and was extended, 0 when it is gone or held by another.
const RENEW = new LuaScript(
  'leader-lease-renew',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
);

// KEYS: 1 lease key. ARGV: 1 holder id.
// Returns 1 when our lease was deleted, 0 when it is gone or held by another (left alone).
const RELEASE = new LuaScript(
  'leader-lease-release',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`,
);

export type LeaderLeaseState = 'standby' | 'leader' | 'closed';

/**
 * Why leadership ended: `lost` — a renewal found the key gone or held by another (after a long
 * pause, or a Redis that restarted empty); `expired` — no renewal succeeded within the lease by
 * this process's clock (Redis unreachable or slow); `closed` — close() released it.
 */
export type LeaseLossReason = 'lost' | 'expired' | 'closed';

export interface LeaderLeaseOptions {
  /** A connection for the lease alone is best: a blocked shared one delays renewals. */
  readonly redis: Redis;
  /** From `keys.schedulerLeader()`. */
  readonly key: string;
  /** Unique among live replicas: the key's value while this replica leads. */
  readonly holderId: string;
  /** How long the key lives without a renewal; renewed (and retried) every leaseMs/3. */
  readonly leaseMs: number;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  /** Called (not awaited) when this replica becomes leader. */
  readonly onAcquire?: () => unknown;
  /** Called (not awaited) when this replica stops leading, whatever the reason. */
  readonly onLose?: (reason: LeaseLossReason) => unknown;
}

/**
 * A leader lease in Redis: at most one holder at a time among replicas sharing `key`.
 *
 * - standby: tries `SET key holderId NX PX leaseMs` every leaseMs/3, and again just as the
 *   holder's key would expire (its PTTL), so a crashed leader is replaced within one lease.
 * - leader: every leaseMs/3 renews with a compare-and-PEXPIRE. A renewal that finds the key
 *   gone or someone else's steps down at once and goes back to trying. A lease no renewal
 *   extended in time (by the monotonic clock, counted from when the last good renewal was
 *   sent, so never later than Redis's own expiry) steps down when it runs out, even while a
 *   renewal still hangs.
 * - closed: close() stops the timers and releases with a compare-and-DEL (idempotent).
 *
 * Every Redis call waits at most leaseMs/4; after a failed one the next try comes leaseMs/10
 * later, so a leader gets two renewals in before a lease runs out on one slow reply.
 * `isLeader` is a local view; `holds()` asks Redis.
 */
export class LeaderLease {
  readonly holderId: string;
  readonly leaseMs: number;
  readonly #o: LeaderLeaseOptions;
  readonly #callTimeoutMs: number;
  #state: LeaderLeaseState = 'standby';
  /** performance.now() after which our lease may have run out in Redis. */
  #validUntil = 0;
  #next: NodeJS.Timeout | null = null;
  #expiry: NodeJS.Timeout | null = null;
  #attempt: Promise<void> | null = null;
  #started = false;
  #closing: Promise<void> | null = null;

  constructor(options: LeaderLeaseOptions) {
    if (!Number.isInteger(options.leaseMs) || options.leaseMs < 10) {
      throw new Error(`leaseMs must be an integer >= 10, got ${options.leaseMs}`);
    }
    this.#o = options;
    this.holderId = options.holderId;
    this.leaseMs = options.leaseMs;
    this.#callTimeoutMs = Math.floor(options.leaseMs / 4);
  }

  get state(): LeaderLeaseState {
    return this.#state;
  }

  /** True while this replica leads and its lease, by this process's clock, has not run out. */
  get isLeader(): boolean {
    return this.#state === 'leader' && performance.now() < this.#validUntil;
  }

  /** Starts trying; resolves after the first attempt (leader at once when the key is free). */
  async start(): Promise<void> {
    if (this.#started || this.#state === 'closed') throw new Error('leader lease cannot start twice');
    this.#started = true;
    await this.#run();
  }

  /**
   * Asks Redis whether the key still holds our id (a fenced check before acting). False on
   * any error or timeout. The answer can be stale by the time the caller acts on it.
   */
  async holds(): Promise<boolean> {
    if (!this.isLeader) return false;
    try {
      return (await this.#bounded('check', this.#o.redis.get(this.#o.key))) === this.holderId;
    } catch (err) {
      this.#o.logger.warn({ err }, 'leader lease check failed');
      return false;
    }
  }

  /** Stops trying or renewing and releases the lease if it is still ours. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const wasLeader = this.#state === 'leader';
      this.#state = 'closed';
      this.#clearTimers();
      if (wasLeader) this.#call('onLose', () => this.#o.onLose?.('closed'));
      await this.#attempt; // bounded: each call in it waits at most leaseMs/4
      try {
        await this.#bounded('release', RELEASE.run(this.#o.redis, [this.#o.key], [this.holderId]));
      } catch (err) {
        this.#o.logger.warn({ err }, 'leader lease release failed; it expires on its own');
      }
    })();
    return this.#closing;
  }

  /**
   * One attempt (acquire or renew), then the next: leaseMs/3 later, leaseMs/10 after a failed
   * call, or, for a standby, just after the holder's lease would run out if sooner.
   */
  #run(): Promise<void> {
    this.#next = null;
    let delay = Math.floor(this.leaseMs / 3);
    this.#attempt = (async () => {
      try {
        if (this.#state === 'leader' && !(await this.#renew())) delay = Math.ceil(this.leaseMs / 10);
        // A standby tries; so does a leader that just stepped down ("goes back to trying").
        if (this.#state === 'standby') delay = Math.min(delay, await this.#acquire());
      } catch (err) {
        delay = Math.ceil(this.leaseMs / 10);
        this.#o.logger.warn({ err, state: this.#state }, 'leader lease attempt failed');
      }
    })();
    return this.#attempt.finally(() => {
      this.#attempt = null;
      if (this.#state !== 'closed') this.#next = setTimeout(() => void this.#run(), delay);
    });
  }

  /** Tries to take the lease; returns how long until the current holder's lease runs out. */
  async #acquire(): Promise<number> {
    const { redis, key } = this.#o;
    const sentAt = performance.now();
    const set = await this.#bounded('acquire', redis.set(key, this.holderId, 'PX', this.leaseMs, 'NX'));
    // The key may already hold our own id: a SET whose reply timed out here but that Redis
    // applied, or this replica restarted under the same id. Reclaiming it is safe because
    // holder ids are unique among live replicas; otherwise we would sit out our own lease.
    const ours =
      set === 'OK' ||
      (await this.#bounded('reclaim', RENEW.run(redis, [key], [this.holderId, this.leaseMs]))) === 1;
    if (!ours) {
      const ttl = await this.#bounded('ttl', redis.pttl(key));
      // -2: gone already (try again at once); -1: no TTL (not a lease we wrote; poll).
      return ttl === -2 ? 0 : ttl < 0 ? this.leaseMs : ttl + 2;
    }
    if (this.#state !== 'standby') return this.leaseMs; // closed meanwhile: close() releases it
    this.#state = 'leader';
    this.#extend(sentAt);
    this.#o.logger.info({ holderId: this.holderId, leaseMs: this.leaseMs }, 'leader lease acquired');
    this.#call('onAcquire', () => this.#o.onAcquire?.());
    return this.leaseMs;
  }

  /** False when the outcome is unknown (error or timeout). */
  async #renew(): Promise<boolean> {
    const sentAt = performance.now();
    let renewed: unknown;
    try {
      renewed = await this.#bounded(
        'renew',
        RENEW.run(this.#o.redis, [this.#o.key], [this.holderId, this.leaseMs]),
      );
    } catch (err) {
      // Unknown outcome: keep leading until the lease runs out (the expiry timer steps down).
      this.#o.logger.warn({ err }, 'leader lease renewal failed; retrying');
      return false;
    }
    if (this.#state !== 'leader') return true; // stepped down or closed while it ran
    if (renewed === 1) this.#extend(sentAt);
    else this.#stepDown('lost');
    return true;
  }

  /** The lease now lasts until sentAt + leaseMs; steps down then unless renewed. */
  #extend(sentAt: number): void {
    this.#validUntil = sentAt + this.leaseMs;
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = setTimeout(
      () => {
        // Every renewal re-arms this timer, so firing means none came in time. (Timers may
        // fire a millisecond early by performance.now(); stepping down early is the safe side.)
        this.#expiry = null;
        if (this.#state === 'leader') this.#stepDown('expired');
      },
      Math.max(0, this.#validUntil - performance.now()),
    );
  }

  #stepDown(reason: LeaseLossReason): void {
    this.#state = 'standby';
    this.#validUntil = 0;
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = null;
    this.#o.logger.warn({ holderId: this.holderId, reason }, 'leader lease lost; standing by');
    this.#call('onLose', () => this.#o.onLose?.(reason));
  }

  #clearTimers(): void {
    if (this.#next) clearTimeout(this.#next);
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#next = null;
    this.#expiry = null;
  }

  /** Runs a callback without awaiting it; a throw or a rejection is logged, never raised. */
  #call(name: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch((err: unknown) => this.#o.logger.warn({ err }, `${name} failed`));
    } catch (err) {
      this.#o.logger.warn({ err }, `${name} failed`);
    }
  }

  /** A Redis call that waits at most leaseMs/4. */
  async #bounded<T>(what: string, call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`leader lease ${what} took longer than ${this.#callTimeoutMs} ms`)),
            this.#callTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
