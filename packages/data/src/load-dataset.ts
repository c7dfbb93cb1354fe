import type { DatasetSpec } from '@trainyard/core';
import type { InMemoryDataset } from './in-memory-dataset.js';
import { splitDataset } from './in-memory-dataset.js';
import { loadMnist } from './mnist.js';

export interface TrainTestData {
  readonly train: InMemoryDataset;
  readonly test: InMemoryDataset;
  /** Source data version plus the split: what a checkpoint records. */
  readonly version: string;
}

/** The train and test sets a job spec names. */
export function loadDataset(spec: DatasetSpec): TrainTestData {
  switch (spec.name) {
    case 'mnist': {
      const all = loadMnist();
      const { train, test } = splitDataset(all, {
        trainSize: spec.trainSize,
        testSize: spec.testSize,
        seed: spec.splitSeed,
      });
      return {
        train,
        test,
        version: `mnist@${all.version}/split-${spec.splitSeed}-${spec.trainSize}-${spec.testSize}`,
      };
    }
  }
}
