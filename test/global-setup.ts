import { startRedisServer } from '@trainyard/devkit';
import type { TestProject } from 'vitest/node';

/**
 * Starts one private redis-server for the whole test run (or uses REDIS_URL when set).
 * Tests reach it with `inject('redisUrl')` and isolate themselves with a unique key prefix.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return async () => {};
  }
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
