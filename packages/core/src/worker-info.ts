import { z } from 'zod';
import { BackendInfo } from './job-record.js';

/** What a worker says of itself at registration and in each heartbeat. */
export const WorkerRegistration = z.object({
  workerId: z.string(),
  host: z.string(),
  pid: z.int(),
  /** Ranks this worker can run at once (one per process: 1). */
  slots: z.int().min(1),
  backend: BackendInfo,
  metricsUrl: z.string().nullable(),
  registeredAt: z.string(),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistration>;

export const WorkerHeartbeat = z.object({
  workerId: z.string(),
  ts: z.string(),
  /** "jobId:generation:rank" while a rank runs, else null. */
  running: z.string().nullable(),
});
export type WorkerHeartbeat = z.infer<typeof WorkerHeartbeat>;

/** The task the scheduler puts on a worker's own queue: run one rank of one generation. */
export const RankTask = z.object({
  jobId: z.string(),
  generation: z.int().min(1),
  rank: z.int().min(0),
  world: z.int().min(1),
});
export type RankTask = z.infer<typeof RankTask>;

/** The message the api puts on the submissions queue. */
export const Submission = z.object({
  jobId: z.string(),
  submittedAt: z.string(),
});
export type Submission = z.infer<typeof Submission>;
