/**
 * @trainyard/data — datasets in memory: the real MNIST digits, seeded train/test splits,
 * and each epoch's seeded shuffle sharded by rank. Knows nothing of Redis.
 *
 *   const { train, test } = loadDataset(spec.dataset);
 *   const plan = new EpochPlan(train.size, spec.batchSize, world, spec.seed);
 *   const batch = gatherBatch(train, plan.rankBatch(epoch, step, rank));
 */
export { EpochPlan } from './epoch-plan.js';
export {
  type Batch,
  gatherBatch,
  type InMemoryDataset,
  makeDataset,
  splitDataset,
  subset,
} from './in-memory-dataset.js';
export { loadDataset, type TrainTestData } from './load-dataset.js';
export { loadMnist } from './mnist.js';
