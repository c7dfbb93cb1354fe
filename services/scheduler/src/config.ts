import { BaseConfig, compileConfig, port, positiveMs } from '@trainyard/core';
import { z } from 'zod';

export const SchedulerConfig = BaseConfig.extend({
  SCHEDULER_TICK_MS: positiveMs.default(1000),
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** 0 picks a free port. */
  METRICS_PORT: port.default(0),
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

export function loadSchedulerConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<SchedulerConfig> {
  return compileConfig(SchedulerConfig, env);
}
