import { seededPermutation } from '@trainyard/core';

/**
 * Which samples each rank reads at each step. Every epoch has its own seeded shuffle of the
 * training set, shared by all ranks; step s of an epoch covers positions
 * [s*B, (s+1)*B) of it, and rank r takes the r-th of W equal slices. An incomplete last
 * global batch is dropped (drop-last), so every rank runs the same number of steps.
 */
export class EpochPlan {
  readonly stepsPerEpoch: number;
  readonly perRankBatch: number;
  private cachedEpoch = -1;
  private order: Uint32Array = new Uint32Array(0);

  constructor(
    readonly datasetSize: number,
    readonly globalBatch: number,
    readonly world: number,
    readonly seed: number,
  ) {
    if (globalBatch % world !== 0)
      throw new RangeError(`global batch ${globalBatch} does not divide over ${world} ranks`);
    this.stepsPerEpoch = Math.floor(datasetSize / globalBatch);
    if (this.stepsPerEpoch < 1) {
      throw new RangeError(
        `dataset of ${datasetSize} samples is smaller than one global batch of ${globalBatch}`,
      );
    }
    this.perRankBatch = globalBatch / world;
  }

  /** The epoch's shuffled order of sample indices. */
  epochOrder(epoch: number): Uint32Array {
    if (epoch !== this.cachedEpoch) {
      this.order = seededPermutation(this.datasetSize, this.seed, epoch + 1);
      this.cachedEpoch = epoch;
    }
    return this.order;
  }

  /** Sample indices of rank `rank` for step `step` (0-based within the epoch). */
  rankBatch(epoch: number, step: number, rank: number): Uint32Array {
    if (step < 0 || step >= this.stepsPerEpoch)
      throw new RangeError(`step ${step} outside epoch of ${this.stepsPerEpoch}`);
    const start = step * this.globalBatch + rank * this.perRankBatch;
    return this.epochOrder(epoch).subarray(start, start + this.perRankBatch);
  }

  /** The whole global batch of a step, in rank order (what one process with batch B reads). */
  globalBatchIndices(epoch: number, step: number): Uint32Array {
    const start = step * this.globalBatch;
    return this.epochOrder(epoch).subarray(start, start + this.globalBatch);
  }
}
