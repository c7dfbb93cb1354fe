/**
 * The collective operations a rank of a job needs, whatever carries them. Every rank calls
 * the same operations in the same order; each operation waits at most the collective's
 * deadline. Implementations: RedisCollective. Each runs the shared conformance suite
 * (collective-conformance.ts).
 */
export interface Collective {
  readonly rank: number;
  readonly world: number;
  /** Every rank's payload, indexed by rank. */
  allGather(payload: Buffer): Promise<Buffer[]>;
  /** Every rank's `info` (JSON), indexed by rank; COLLECTIVE_MISMATCH when two joiners claim one rank. */
  rendezvous<T>(info: T): Promise<T[]>;
  /** Returns once every rank has entered. */
  barrier(): Promise<void>;
  /** The root's payload, on every rank (others pass null). */
  broadcast(payload: Buffer | null, root?: number): Promise<Buffer>;
  /** The element-wise mean over ranks, as a new array, byte-identical on every rank. */
  allReduceMean(data: Float32Array): Promise<Float32Array>;
  /** Ends any wait in progress (COLLECTIVE_ABORTED) and releases connections. Idempotent. */
  close(): Promise<void>;
}
