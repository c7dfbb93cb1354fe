import { allGather, broadcast } from './all-gather.js';
import { allReduceMean } from './all-reduce.js';
import { BlockingWaits } from './blocking-waits.js';
import type { Collective } from './collective.js';
import { abortedError, type OpLabel } from './collective-errors.js';
import { type CollectiveKeys, createCollectiveKeys } from './collective-keys.js';
import {
  type CollectiveOptions,
  type CompiledCollectiveOptions,
  compileCollectiveOptions,
} from './collective-options.js';
import type { OpContext } from './op-context.js';

/** `open` until an operation fails (`failed`: ranks may no longer agree on sequence numbers) or `close()`. */
export type CollectiveState = 'open' | 'failed' | 'closed';

/**
 * A collective over Redis for one rank of one (job, generation). Operations run one at a
 * time in call order, each with the next sequence number, so op k of every rank meets op k
 * of the others under the same keys. After a failure every later operation fails with
 * COLLECTIVE_ABORTED: the generation is over, and the next one builds a new collective.
 *
 *   const coll = new RedisCollective({ redis, group: keys.collectiveGroup(jobId, gen), rank, world, timeoutMs });
 *   const peers = await coll.rendezvous({ workerId, modelHash });
 *   const grads = await coll.allReduceMean(flatGradients);
 *   await coll.close();
 */
export class RedisCollective implements Collective {
  readonly rank: number;
  readonly world: number;
  readonly #opts: CompiledCollectiveOptions;
  readonly #keys: CollectiveKeys;
  readonly #waits: BlockingWaits;
  #seq = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #state: CollectiveState = 'open';
  #failure: unknown;
  #closing: Promise<void> | null = null;

  constructor(options: CollectiveOptions) {
    this.#opts = compileCollectiveOptions(options);
    this.rank = this.#opts.rank;
    this.world = this.#opts.world;
    this.#keys = createCollectiveKeys(this.#opts.group);
    this.#waits = new BlockingWaits(
      this.#opts.redis,
      this.#opts.timeoutMs,
      this.#opts.signal,
      `collective-${this.rank}-of-${this.world}`,
    );
  }

  get state(): CollectiveState {
    return this.#state;
  }

  /** How many operations have been called so far (the last sequence number used). */
  get sequence(): number {
    return this.#seq;
  }

  allGather(payload: Buffer): Promise<Buffer[]> {
    return this.#run('allGather', (ctx) => allGather(ctx, payload));
  }

  rendezvous<T>(info: T): Promise<T[]> {
    const json = Buffer.from(JSON.stringify(info ?? null));
    return this.#run('rendezvous', async (ctx) =>
      (await allGather(ctx, json)).map((b) => JSON.parse(b.toString()) as T),
    );
  }

  barrier(): Promise<void> {
    return this.#run('barrier', async (ctx) => {
      await allGather(ctx, Buffer.alloc(0));
    });
  }

  broadcast(payload: Buffer | null, root = 0): Promise<Buffer> {
    if (!Number.isInteger(root) || root < 0 || root >= this.world) {
      return Promise.reject(
        new RangeError(`broadcast root must be a rank in [0, ${this.world}), got ${root}`),
      );
    }
    return this.#run('broadcast', (ctx) => broadcast(ctx, payload, root));
  }

  allReduceMean(data: Float32Array): Promise<Float32Array> {
    return this.#run('allReduce', async (ctx) => {
      const started = process.hrtime.bigint();
      const { result, bytes } = await allReduceMean(ctx, data);
      this.#opts.metrics.bytes?.inc(bytes);
      this.#opts.metrics.seconds?.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return result;
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closed';
      this.#waits.close();
      await this.#tail;
    })();
    return this.#closing;
  }

  /** Runs `body` as the next operation, after every operation called before it. */
  #run<T>(op: string, body: (ctx: OpContext) => Promise<T>): Promise<T> {
    const seq = ++this.#seq;
    const label: OpLabel = { op, seq, rank: this.rank, world: this.world };
    const run = async (): Promise<T> => {
      if (this.#state === 'closed') throw abortedError(label, 'the collective is closed');
      if (this.#state === 'failed') {
        const why = this.#failure instanceof Error ? this.#failure.message : String(this.#failure);
        throw abortedError(label, `an earlier operation failed: ${why}`, this.#failure);
      }
      this.#waits.throwIfStopped(label);
      try {
        return await body({
          label,
          seq,
          rank: this.rank,
          world: this.world,
          cmd: this.#opts.redis,
          waits: this.#waits,
          keys: this.#keys,
          ttlMs: this.#opts.ttlMs,
          chunkElements: this.#opts.chunkElements,
        });
      } catch (err) {
        if (this.#state === 'open') {
          this.#state = 'failed';
          this.#failure = err;
        }
        throw err;
      }
    };
    const result = this.#tail.then(run);
    this.#tail = result.catch(() => {});
    return result;
  }
}
