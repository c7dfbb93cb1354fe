import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A metrics registry per service, passed in rather than global, so two services can share
 * a process in tests. Names follow `trainyard_<subsystem>_<name>_<unit>` (docs/metrics.md).
 */
export function createMetricsRegistry(
  component: string,
  options: { defaultMetrics?: boolean } = {},
): Registry {
  const registry = new Registry();
  // `component`, not `service`: the Prometheus Operator sets a target label `service` (the
  // Kubernetes Service's name), which would rename ours to exported_service.
  registry.setDefaultLabels({ component });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'trainyard_' });
  return registry;
}

/** Buckets in seconds from 1 ms to ~30 s, for step and collective durations. */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Buckets in seconds from 5 ms to 2 min, for checkpoint writes (a few MB to local disk .. GBs to S3). */
export const CHECKPOINT_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/** Buckets in seconds from 100 ms to 2 h, for the time a job waits for a gang of workers. */
export const QUEUE_WAIT_BUCKETS_SECONDS = [0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200];
