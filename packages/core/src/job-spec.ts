import { z } from 'zod';

/**
 * JobSpec: what a client submits to `POST /v1/jobs`. Every object is strict (unknown keys
 * are refused) and every size is bounded (DESIGN.md, "Security": inputs are bounded).
 */

export const LIMITS = Object.freeze({
  maxWorkers: 64,
  maxHiddenLayers: 16,
  maxUnits: 4096,
  maxEpochs: 1000,
  maxBatchSize: 65536,
  mnistDigits: 10000,
});

const int = (min: number, max: number) => z.int().min(min).max(max);

export const MlpModelSpec = z.strictObject({
  family: z.literal('mlp'),
  /** Sizes of the hidden layers; the input and output sizes come from the dataset. */
  hidden: z.array(int(1, LIMITS.maxUnits)).min(1).max(LIMITS.maxHiddenLayers),
  activation: z.enum(['relu', 'tanh', 'sigmoid']).default('relu'),
});

export const ConvBlockSpec = z.strictObject({
  filters: int(1, 512),
  kernelSize: int(1, 11),
  strides: int(1, 4).default(1),
  padding: z.enum(['valid', 'same']).default('valid'),
  /** Max-pooling window (and stride) after the convolution; 1 = no pooling. */
  pool: int(1, 4).default(2),
});

export const CnnModelSpec = z.strictObject({
  family: z.literal('cnn'),
  /** Convolution blocks: conv -> activation -> max-pool, in order. */
  conv: z.array(ConvBlockSpec).min(1).max(8),
  /** Hidden dense layers after flattening; the output layer comes from the dataset. */
  dense: z.array(int(1, LIMITS.maxUnits)).max(LIMITS.maxHiddenLayers).default([64]),
  activation: z.enum(['relu', 'tanh', 'sigmoid']).default('relu'),
});

export const ModelSpec = z.discriminatedUnion('family', [MlpModelSpec, CnnModelSpec]);

export const MnistDatasetSpec = z.strictObject({
  name: z.literal('mnist'),
  /** Digits drawn for training from the 10,000 the `mnist` package ships. */
  trainSize: int(1, LIMITS.mnistDigits).default(8000),
  /** Digits held out for the final evaluation, disjoint from the training digits. */
  testSize: int(1, LIMITS.mnistDigits).default(2000),
  /** Seed of the train/test split (a seeded shuffle of all 10,000 digits). */
  splitSeed: int(0, 2 ** 32 - 1).default(0),
});

export const DatasetSpec = z.discriminatedUnion('name', [MnistDatasetSpec]);

export const OptimizerSpec = z.strictObject({
  name: z.enum(['sgd', 'adam']),
  learningRate: z.number().positive().max(10),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  epsilon: z.number().positive().max(1).default(1e-7),
});

export const CheckpointSpec = z.strictObject({
  /** Rank 0 writes a checkpoint every this many steps, and always at the end. */
  everySteps: int(1, 1_000_000).default(100),
  /** Checkpoints kept in the store; older ones are deleted (never the one a run resumed from). */
  keepLast: int(1, 1000).default(3),
});

export const CollectiveSpec = z.strictObject({
  /** Deadline of every collective wait (rendezvous, all-reduce) in milliseconds. */
  timeoutMs: int(100, 3_600_000).default(60_000),
  /** Every this many steps the ranks compare a hash of their weights (0 = only at the end). */
  checkWeightsEverySteps: int(0, 1_000_000).default(100),
});

export const NonFiniteSpec = z.strictObject({
  /** What a NaN or infinite loss or gradient does: fail the job, or skip that step's update. */
  action: z.enum(['fail', 'skip']).default('fail'),
  /** With `skip`: the job fails once more steps than this were skipped. */
  maxSkippedSteps: int(0, 100_000).default(10),
});

export const JobSpec = z
  .strictObject({
    name: z.string().min(1).max(128).optional(),
    model: ModelSpec,
    dataset: DatasetSpec,
    /**
     * Number of ranks; the job starts only when this many workers are free at once. Or
     * `{ min, max }` (elastic): it starts, and restarts after a failure, with as many as are
     * free within the bounds and divide the global batch.
     */
    workers: z.union([
      int(1, LIMITS.maxWorkers),
      z.strictObject({ min: int(1, LIMITS.maxWorkers), max: int(1, LIMITS.maxWorkers) }),
    ]),
    /** Global batch size, split evenly over the ranks. */
    batchSize: int(1, LIMITS.maxBatchSize),
    optimizer: OptimizerSpec,
    epochs: int(1, LIMITS.maxEpochs),
    seed: int(0, 2 ** 32 - 1).default(0),
    checkpoint: CheckpointSpec.default({ everySteps: 100, keepLast: 3 }),
    /**
     * Backends differ numerically, so by default every rank of a job runs on the same one
     * (the scheduler only places the job on workers of one backend).
     */
    allowMixedBackends: z.boolean().default(false),
    /**
     * How many times a failed generation (a rank lost, a collective deadline missed, a rank
     * crashed) restarts from the latest valid checkpoint before the job is FAILED.
     */
    maxRestarts: int(0, 100).default(3),
    collective: CollectiveSpec.default({ timeoutMs: 60_000, checkWeightsEverySteps: 100 }),
    onNonFinite: NonFiniteSpec.default({ action: 'fail', maxSkippedSteps: 10 }),
  })
  .superRefine((spec, ctx) => {
    const { min, max } = workerBounds(spec);
    if (min > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['workers', 'min'],
        message: `min ${min} is larger than max ${max}`,
      });
    } else if (rankCounts(spec).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['batchSize'],
        message:
          min === max
            ? `batchSize ${spec.batchSize} must be divisible by workers ${min}`
            : `batchSize ${spec.batchSize} must be divisible by some number of workers in ${min}..${max}`,
      });
    }
    if (spec.model.family === 'cnn') {
      // Each block must leave a feature map of at least 1x1 on the dataset's 28x28 images.
      let size = 28;
      spec.model.conv.forEach((block, i) => {
        const conv =
          block.padding === 'same'
            ? Math.ceil(size / block.strides)
            : Math.floor((size - block.kernelSize) / block.strides) + 1;
        const pooled = Math.floor(conv / block.pool);
        if (conv < 1 || pooled < 1) {
          ctx.addIssue({
            code: 'custom',
            path: ['model', 'conv', i],
            message: `block ${i} gets a ${size}x${size} input and would leave no output (conv ${conv}, pooled ${pooled})`,
          });
        }
        size = Math.max(pooled, 1);
      });
    }
    const { trainSize, testSize } = spec.dataset;
    if (trainSize + testSize > LIMITS.mnistDigits) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataset', 'trainSize'],
        message: `trainSize + testSize must be at most ${LIMITS.mnistDigits} (got ${trainSize + testSize})`,
      });
    }
    if (trainSize < spec.batchSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataset', 'trainSize'],
        message: `trainSize ${trainSize} is smaller than one global batch (${spec.batchSize}); no step could run`,
      });
    }
  });

export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;
export type ModelSpec = z.infer<typeof ModelSpec>;
export type DatasetSpec = z.infer<typeof DatasetSpec>;
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

/** The bounds on a job's rank count: a fixed count is min = max. */
export function workerBounds(spec: Pick<JobSpec, 'workers'>): { min: number; max: number } {
  return typeof spec.workers === 'number' ? { min: spec.workers, max: spec.workers } : spec.workers;
}

/** The rank counts a job may run with, largest first: within its bounds, dividing the global batch. */
export function rankCounts(spec: Pick<JobSpec, 'workers' | 'batchSize'>): number[] {
  const { min, max } = workerBounds(spec);
  const out: number[] = [];
  for (let w = max; w >= min; w--) if (spec.batchSize % w === 0) out.push(w);
  return out;
}

/** Steps per epoch under the drop-last policy: an incomplete last global batch is not run. */
export function stepsPerEpoch(spec: Pick<JobSpec, 'batchSize' | 'dataset'>): number {
  return Math.floor(spec.dataset.trainSize / spec.batchSize);
}
