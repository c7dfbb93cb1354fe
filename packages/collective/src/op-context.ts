import type { Redis } from '@trainyard/core';
import type { BlockingWaits } from './blocking-waits.js';
import type { OpLabel } from './collective-errors.js';
import type { CollectiveKeys } from './collective-keys.js';

/** What one collective operation works with: its sequence number, connections, keys and limits. */
export interface OpContext {
  readonly label: OpLabel;
  readonly seq: number;
  readonly rank: number;
  readonly world: number;
  /** Command connection: every write and Lua script. */
  readonly cmd: Redis;
  /** Blocking reads, on their own connection, each with a deadline. */
  readonly waits: BlockingWaits;
  readonly keys: CollectiveKeys;
  readonly ttlMs: number;
  readonly chunkElements: number;
}

/** The ranks in [0, world) for which `has(rank)` is false. */
export function missingRanks(world: number, has: (rank: number) => boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < world; r++) if (!has(r)) out.push(r);
  return out;
}
