import { z } from 'zod';
import { JobSpec } from './job-spec.js';
import { JOB_STATES } from './job-state.js';

/** Wire shapes of the job record and its events, shared by api, scheduler, worker and CLI. */

export const RankPlacement = z.object({
  rank: z.int().min(0),
  workerId: z.string(),
});
export type RankPlacement = z.infer<typeof RankPlacement>;

export const BackendInfo = z.object({
  name: z.string(),
  version: z.string(),
  gpu: z.string().nullable().default(null),
});
export type BackendInfo = z.infer<typeof BackendInfo>;

export const JobProgress = z.object({
  epoch: z.int(),
  epochs: z.int(),
  step: z.int(),
  totalSteps: z.int(),
  samples: z.int(),
  loss: z.number(),
  samplesPerSec: z.number(),
  etaSeconds: z.number(),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const CheckpointRef = z.object({
  step: z.int(),
  epoch: z.int(),
  /** Object-store key of the checkpoint's manifest. */
  manifestKey: z.string(),
  /** sha256 of the manifest itself. */
  manifestSha256: z.string(),
  bytes: z.int(),
  createdAt: z.string(),
});
export type CheckpointRef = z.infer<typeof CheckpointRef>;

export const ClassificationEvaluation = z.object({
  samples: z.int(),
  loss: z.number(),
  accuracy: z.number(),
  precisionMacro: z.number(),
  recallMacro: z.number(),
  f1Macro: z.number(),
  perClass: z.array(
    z.object({ label: z.int(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.int() }),
  ),
  confusion: z.array(z.array(z.int())),
});
export type ClassificationEvaluation = z.infer<typeof ClassificationEvaluation>;

export const JobFailure = z.object({
  code: z.string(),
  message: z.string(),
  rank: z.int().nullable().default(null),
  workerId: z.string().nullable().default(null),
});
export type JobFailure = z.infer<typeof JobFailure>;

export const RestartRecord = z.object({
  /** The generation that failed; the job went on as generation + 1. */
  generation: z.int(),
  at: z.string(),
  code: z.string(),
  reason: z.string(),
  rank: z.int().nullable(),
  workerId: z.string().nullable(),
  /** False for a planned stop (a worker drained): it does not count against maxRestarts. */
  counted: z.boolean().default(true),
  /** How long after `at` the next generation could be placed at the earliest (the restart backoff). */
  delayMs: z.number().optional(),
});
export type RestartRecord = z.infer<typeof RestartRecord>;

export const JobRecord = z.object({
  id: z.string(),
  tenant: z.string(),
  state: z.enum(JOB_STATES),
  generation: z.int(),
  spec: JobSpec,
  placement: z.array(RankPlacement).nullable(),
  backends: z.record(z.string(), BackendInfo).nullable(),
  progress: JobProgress.nullable(),
  checkpoints: z.array(CheckpointRef),
  evaluation: ClassificationEvaluation.nullable(),
  error: JobFailure.nullable(),
  /** Every restart so far, oldest first; its length counts against spec.maxRestarts. */
  restarts: z.array(RestartRecord).default([]),
  createdAt: z.string(),
  updatedAt: z.string(),
  placedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});
export type JobRecord = z.infer<typeof JobRecord>;

export const JobEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    ts: z.string(),
    state: z.enum(JOB_STATES),
    generation: z.int(),
    reason: z.string().optional(),
  }),
  z.object({ type: z.literal('progress'), ts: z.string(), generation: z.int(), progress: JobProgress }),
  z.object({ type: z.literal('checkpoint'), ts: z.string(), generation: z.int(), checkpoint: CheckpointRef }),
  z.object({
    type: z.literal('log'),
    ts: z.string(),
    generation: z.int(),
    level: z.string(),
    message: z.string(),
  }),
]);
export type JobEvent = z.infer<typeof JobEvent>;
