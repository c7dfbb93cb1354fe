/**
 * @trainyard/scheduler — the pending set, the worker pool, gang placement and dispatch.
 *
 *   const scheduler = createScheduler({ redis, connect, keys, logger, tickMs: 1000 });
 *   await scheduler.start();
 */
export { loadSchedulerConfig, SchedulerConfig } from './config.js';
export {
  chooseGang,
  createScheduler,
  type Scheduler,
  type SchedulerDeps,
  type SchedulerState,
} from './scheduler.js';
export { createSchedulerMetrics, type SchedulerMetrics } from './scheduler-metrics.js';
