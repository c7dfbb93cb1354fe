/**
 * @trainyard/collective — what the ranks of one job do together: rendezvous, barrier,
 * broadcast, allGather and all-reduce (mean), over Redis. Knows nothing of models or jobs
 * beyond the group prefix it is given. docs/collective.md describes the algorithm, the keys,
 * the TTLs, the deadlines and the measured bandwidth.
 *
 *   const coll = new RedisCollective({
 *     redis, group: keys.collectiveGroup(jobId, generation), rank, world, timeoutMs: spec.collective.timeoutMs,
 *   });
 *   const peers = await coll.rendezvous({ workerId, modelHash });
 *   const mean = await coll.allReduceMean(flatGradients); // same bytes on every rank
 *   await coll.close();
 */

export { MAX_ALLREDUCE_ELEMENTS } from './all-reduce.js';
export type { Collective } from './collective.js';
export { type CollectiveKeys, createCollectiveKeys } from './collective-keys.js';
export {
  type CollectiveMetrics,
  type CollectiveOptions,
  type CompiledCollectiveOptions,
  compileCollectiveOptions,
  DEFAULT_CHUNK_ELEMENTS,
  MIN_TTL_MS,
} from './collective-options.js';
export { meanInRankOrder } from './mean-reduce.js';
export { type CollectiveState, RedisCollective } from './redis-collective.js';
