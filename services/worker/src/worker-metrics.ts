import * as tf from '@tensorflow/tfjs';
import {
  CHECKPOINT_BUCKETS_SECONDS,
  Counter,
  DURATION_BUCKETS_SECONDS,
  Gauge,
  Histogram,
  type Registry,
} from '@trainyard/core';

/**
 * The series of one job on this worker, bound to its `job_id` label. A worker runs one rank at
 * a time, so it holds the series of at most a few jobs at once (the current one, and ended
 * ones until their linger runs out): the `job` label is bounded per worker.
 */
export interface JobMetrics {
  readonly stepSeconds: { observe(seconds: number): void };
  readonly steps: { inc(n?: number): void };
  readonly samples: { inc(n?: number): void };
  readonly loss: { set(value: number): void };
  /** Accuracy of this rank's shard of the last batch (before the update). */
  readonly trainAccuracy: { set(value: number): void };
  /** Accuracy on the held-out set (rank 0, at the end of the job). */
  readonly testAccuracy: { set(value: number): void };
  readonly samplesPerSecond: { set(value: number): void };
  readonly nonFiniteSteps: { inc(n?: number): void };
  readonly allReduceBytes: { inc(n?: number): void };
  readonly allReduceSeconds: { observe(seconds: number): void };
  readonly checkpointSeconds: { observe(seconds: number): void };
  readonly checkpointBytes: { inc(n?: number): void };
}

/** Every metric a worker exports (docs/metrics.md). */
export interface WorkerMetrics {
  readonly stepSeconds: Histogram<'job_id'>;
  readonly steps: Counter<'job_id'>;
  readonly samples: Counter<'job_id'>;
  readonly loss: Gauge<'job_id'>;
  readonly accuracy: Gauge<'job_id' | 'split'>;
  readonly samplesPerSecond: Gauge<'job_id'>;
  readonly nonFiniteSteps: Counter<'job_id'>;
  readonly allReduceBytes: Counter<'job_id'>;
  readonly allReduceSeconds: Histogram<'job_id'>;
  readonly checkpointSeconds: Histogram<'job_id'>;
  readonly checkpointBytes: Counter<'job_id'>;
  readonly ranks: Counter<'outcome'>;
  readonly rankRunning: Gauge;
  readonly backendInfo: Gauge<'backend' | 'version'>;
  /**
   * The series of `jobId`, created at zero (so rates and increases see the first step) and
   * kept past a rank's end until `releaseJob` + the linger; binding again cancels a pending release.
   */
  forJob(jobId: string): JobMetrics;
  /** Removes the job's series after the linger (long enough for Prometheus to scrape the last values). */
  releaseJob(jobId: string): void;
  /** Stops pending releases (process exit). */
  close(): void;
}

export interface WorkerMetricsOptions {
  /** How long an ended job's series stay exported; default 60 s (two scrapes at 30 s). */
  readonly jobSeriesLingerMs?: number;
}

export function createWorkerMetrics(registry: Registry, options: WorkerMetricsOptions = {}): WorkerMetrics {
  const lingerMs = options.jobSeriesLingerMs ?? 60_000;
  const registers = [registry];
  const job = ['job_id'] as const;
  const stepSeconds = new Histogram({
    name: 'trainyard_worker_step_duration_seconds',
    help: 'Wall time of one training step on this rank: gradients, all-reduce and apply',
    labelNames: job,
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const steps = new Counter({
    name: 'trainyard_worker_steps_total',
    help: 'Training steps completed by this worker for the job',
    labelNames: job,
    registers,
  });
  const samples = new Counter({
    name: 'trainyard_worker_samples_total',
    help: 'Training samples processed by this worker for the job (its shard of each global batch)',
    labelNames: job,
    registers,
  });
  const loss = new Gauge({
    name: 'trainyard_worker_loss',
    help: 'Mean training loss of the last global batch',
    labelNames: job,
    registers,
  });
  const accuracy = new Gauge({
    name: 'trainyard_worker_accuracy',
    help: 'Accuracy (0..1): split="train" of this rank\'s shard of the last batch, split="test" on the held-out set at the end (rank 0)',
    labelNames: ['job_id', 'split'] as const,
    registers,
  });
  const samplesPerSecond = new Gauge({
    name: 'trainyard_worker_samples_per_second',
    help: 'Global samples per second of the job since this generation started, as seen by rank 0',
    labelNames: job,
    registers,
  });
  const nonFiniteSteps = new Counter({
    name: 'trainyard_worker_nonfinite_steps_total',
    help: 'Steps whose reduced loss or gradients were NaN or infinite (skipped or failed, per onNonFinite)',
    labelNames: job,
    registers,
  });
  const allReduceBytes = new Counter({
    name: 'trainyard_collective_allreduce_bytes_total',
    help: 'Bytes this rank sent to and received from Redis in all-reduce operations',
    labelNames: job,
    registers,
  });
  const allReduceSeconds = new Histogram({
    name: 'trainyard_collective_allreduce_duration_seconds',
    help: 'Wall time of one all-reduce on this rank',
    labelNames: job,
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const checkpointSeconds = new Histogram({
    name: 'trainyard_worker_checkpoint_write_duration_seconds',
    help: 'Wall time to write one checkpoint (files and manifest)',
    labelNames: job,
    buckets: CHECKPOINT_BUCKETS_SECONDS,
    registers,
  });
  const checkpointBytes = new Counter({
    name: 'trainyard_worker_checkpoint_bytes_total',
    help: 'Bytes written to the object store in checkpoints',
    labelNames: job,
    registers,
  });
  new Gauge({
    name: 'trainyard_worker_tensors',
    help: 'Tensors alive in this worker (tf.memory().numTensors); growing across steps means a leak',
    registers,
    collect() {
      this.set(tf.memory().numTensors);
    },
  });
  new Gauge({
    name: 'trainyard_worker_tensor_bytes',
    help: 'Bytes held by live tensors in this worker (tf.memory().numBytes)',
    registers,
    collect() {
      this.set(tf.memory().numBytes);
    },
  });

  const perJob = [
    stepSeconds,
    steps,
    samples,
    loss,
    samplesPerSecond,
    nonFiniteSteps,
    allReduceBytes,
    allReduceSeconds,
    checkpointSeconds,
    checkpointBytes,
  ];
  const releases = new Map<string, NodeJS.Timeout>();
  const remove = (jobId: string) => {
    releases.delete(jobId);
    for (const m of perJob) m.remove({ job_id: jobId });
    for (const split of ['train', 'test']) accuracy.remove({ job_id: jobId, split });
  };

  return {
    stepSeconds,
    steps,
    samples,
    loss,
    accuracy,
    samplesPerSecond,
    nonFiniteSteps,
    allReduceBytes,
    allReduceSeconds,
    checkpointSeconds,
    checkpointBytes,
    ranks: new Counter({
      name: 'trainyard_worker_ranks_total',
      help: 'Rank tasks this worker ended, by outcome (succeeded, failed, cancelled, stale, drained)',
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
    forJob(jobId) {
      clearTimeout(releases.get(jobId));
      releases.delete(jobId);
      const labels = { job_id: jobId };
      // Counters start at 0, so the first increase is visible to rate() and to alerts.
      for (const c of [steps, samples, nonFiniteSteps, allReduceBytes, checkpointBytes]) c.inc(labels, 0);
      return {
        stepSeconds: stepSeconds.labels(labels),
        steps: steps.labels(labels),
        samples: samples.labels(labels),
        loss: loss.labels(labels),
        trainAccuracy: accuracy.labels({ job_id: jobId, split: 'train' }),
        testAccuracy: accuracy.labels({ job_id: jobId, split: 'test' }),
        samplesPerSecond: samplesPerSecond.labels(labels),
        nonFiniteSteps: nonFiniteSteps.labels(labels),
        allReduceBytes: allReduceBytes.labels(labels),
        allReduceSeconds: allReduceSeconds.labels(labels),
        checkpointSeconds: checkpointSeconds.labels(labels),
        checkpointBytes: checkpointBytes.labels(labels),
      };
    },
    releaseJob(jobId) {
      clearTimeout(releases.get(jobId));
      if (lingerMs <= 0) {
        remove(jobId);
        return;
      }
      releases.set(jobId, setTimeout(() => remove(jobId), lingerMs).unref());
    },
    close() {
      for (const t of releases.values()) clearTimeout(t);
      releases.clear();
    },
  };
}
