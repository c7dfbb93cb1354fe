import {
  createLogger,
  createMetricsRegistry,
  JobSpec,
  type JobSpecInput,
  JobStore,
  type Registry,
  type Submission,
} from '@trainyard/core';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { type RedisFixture, redisFixture } from '../../../test/helpers.js';
import { type ApiDeps, buildApp } from './app.js';
import { closeAppWithGrace } from './shutdown.js';

/** Test-only: an api built on the test run's redis-server with a unique key prefix. Not exported. */
export interface ApiFixture extends RedisFixture {
  readonly app: FastifyInstance;
  readonly store: JobStore;
  readonly submissions: Queue<Submission>;
  readonly metrics: Registry;
  /** Jobs in the index plus jobs in the submissions queue, in any state. */
  counts(): Promise<{ indexed: number; queued: number }>;
  close(): Promise<void>;
}

export async function apiFixture(overrides: Partial<ApiDeps> = {}): Promise<ApiFixture> {
  const fx = await redisFixture();
  const submissions = new Queue<Submission>(fx.keys.submissionsQueue(), {
    connection: fx.redis,
    prefix: fx.keys.bullPrefix(),
  });
  const store = new JobStore(fx.redis, fx.keys);
  const metrics = createMetricsRegistry('api', { defaultMetrics: false });
  const app = buildApp({
    redis: fx.redis,
    keys: fx.keys,
    store,
    submissions,
    logger: createLogger('api-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    metrics,
    ...overrides,
  });
  return {
    ...fx,
    app,
    store,
    submissions,
    metrics,
    async counts() {
      const indexed = await fx.redis.zcard(fx.keys.jobIndex());
      const byType = await submissions.getJobCounts();
      const queued = Object.values(byType).reduce((a, b) => a + b, 0);
      return { indexed, queued };
    },
    async close() {
      await closeAppWithGrace(app, 500);
      await submissions.close();
      await fx.cleanup();
    },
  };
}

/** A small valid spec (as a client would send it, defaults not applied). */
export function validSpec(): JobSpecInput {
  return {
    name: 'mnist-mlp',
    model: { family: 'mlp', hidden: [32] },
    dataset: { name: 'mnist', trainSize: 1000, testSize: 200 },
    workers: 2,
    batchSize: 64,
    optimizer: { name: 'adam', learningRate: 0.001 },
    epochs: 2,
  };
}

export function parsedSpec(input: JobSpecInput = validSpec()): JobSpec {
  return JobSpec.parse(input);
}
