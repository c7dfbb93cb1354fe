import { Counter, DURATION_BUCKETS_SECONDS, Gauge, Histogram, type Registry } from '@trainyard/core';

/** Every metric a worker exports (docs/metrics.md). No label carries a job id or step. */
export interface WorkerMetrics {
  readonly stepSeconds: Histogram;
  readonly steps: Counter;
  readonly samples: Counter;
  readonly loss: Gauge;
  readonly samplesPerSecond: Gauge;
  readonly allReduceBytes: Counter;
  readonly allReduceSeconds: Histogram;
  readonly checkpointSeconds: Histogram;
  readonly checkpointBytes: Counter;
  readonly ranks: Counter<'outcome'>;
  readonly rankRunning: Gauge;
  readonly backendInfo: Gauge<'backend' | 'version'>;
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  return {
    stepSeconds: new Histogram({
      name: 'trainyard_worker_step_duration_seconds',
      help: 'Wall time of one training step on this rank: gradients, all-reduce and apply',
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    }),
    steps: new Counter({
      name: 'trainyard_worker_steps_total',
      help: 'Training steps completed by this worker',
      registers,
    }),
    samples: new Counter({
      name: 'trainyard_worker_samples_total',
      help: 'Training samples processed by this worker (its shard of each global batch)',
      registers,
    }),
    loss: new Gauge({
      name: 'trainyard_worker_loss',
      help: 'Mean training loss of the last global batch',
      registers,
    }),
    samplesPerSecond: new Gauge({
      name: 'trainyard_worker_samples_per_second',
      help: 'Global samples per second over the last steps, as seen by this rank',
      registers,
    }),
    allReduceBytes: new Counter({
      name: 'trainyard_collective_allreduce_bytes_total',
      help: 'Bytes this rank sent to and received from Redis in all-reduce operations',
      registers,
    }),
    allReduceSeconds: new Histogram({
      name: 'trainyard_collective_allreduce_duration_seconds',
      help: 'Wall time of one all-reduce on this rank',
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    }),
    checkpointSeconds: new Histogram({
      name: 'trainyard_worker_checkpoint_write_duration_seconds',
      help: 'Wall time to write one checkpoint (files and manifest)',
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    }),
    checkpointBytes: new Counter({
      name: 'trainyard_worker_checkpoint_bytes_total',
      help: 'Bytes written to the object store in checkpoints',
      registers,
    }),
    ranks: new Counter({
      name: 'trainyard_worker_ranks_total',
      help: 'Rank tasks this worker ended, by outcome (succeeded, failed, cancelled, stale)',
      labelNames: ['outcome'],
      registers,
    }),
    rankRunning: new Gauge({
      name: 'trainyard_worker_rank_running',
      help: '1 while this worker runs a rank',
      registers,
    }),
    backendInfo: new Gauge({
      name: 'trainyard_worker_backend_info',
      help: 'The TensorFlow.js backend this worker trains on (value 1)',
      labelNames: ['backend', 'version'],
      registers,
    }),
  };
}
