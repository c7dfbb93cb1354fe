import { RedisCollective } from '@trainyard/collective';
import {
  type BackendInfo,
  type CheckpointRef,
  describeError,
  Errors,
  isLive,
  isTrainyardError,
  type JobProgress,
  type JobRecord,
  type JobStore,
  type Keys,
  type Logger,
  type RankTask,
  type Redis,
  StoreResult,
  specHash,
  TrainyardError,
} from '@trainyard/core';
import { EpochPlan, gatherBatch, loadDataset, type TrainTestData } from '@trainyard/data';
import {
  buildModel,
  ClassifierProgram,
  createOptimizer,
  decodeNamedArrays,
  encodeNamedArrays,
} from '@trainyard/models';
import { deleteCheckpoint, type ObjectStore, readCheckpoint, writeCheckpoint } from '@trainyard/storage';
import type { JobMetrics, WorkerMetrics } from './worker-metrics.js';

/** What a rank needs from its worker; a test builds one with a real Redis and no process. */
export interface RankContext {
  readonly task: RankTask;
  readonly workerId: string;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly store: JobStore;
  readonly objects: ObjectStore;
  readonly backend: BackendInfo;
  readonly logger: Logger;
  readonly metrics?: WorkerMetrics;
  /** Aborted when the job is cancelled or fails elsewhere, or the worker stops past its drain grace. */
  readonly signal: AbortSignal;
  /** True once this worker is shutting down: the ranks checkpoint at the next step and hand over. */
  readonly draining?: () => boolean;
  readonly loadData?: (spec: JobRecord['spec']['dataset']) => TrainTestData;
  readonly progressIntervalMs?: number;
}

export type RankOutcome = 'succeeded' | 'failed' | 'cancelled' | 'stale' | 'drained';

interface RendezvousInfo {
  rank: number;
  /** The checkpoint step every rank resumes from (0: the start). */
  resumeStep: number;
  workerId: string;
  weightsHash: string;
  parameterCount: number;
  backend: BackendInfo;
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw new TrainyardError(Errors.COLLECTIVE_ABORTED, 'the rank was stopped', { cause: signal.reason });
}

/**
 * Runs one rank of one generation of a job to its end: rendezvous, identical seeded model
 * checked by hash, its shard of every step, gradients -> all-reduce -> apply, checkpoints
 * (rank 0), evaluation and the SUCCEEDED transition (rank 0). A failure of this rank moves
 * the job to FAILED with the rank, worker and reason; a job that ended elsewhere
 * (cancelled, failed by a peer) makes it stop quietly.
 */
export async function runRank(ctx: RankContext): Promise<RankOutcome> {
  const { task, store, logger } = ctx;
  const log = logger.child({
    jobId: task.jobId,
    generation: task.generation,
    rank: task.rank,
    workerId: ctx.workerId,
  });
  const job = await store.get(task.jobId);
  if (!job || !['PLACED', 'RUNNING'].includes(job.state) || job.generation !== task.generation) {
    log.info({ state: job?.state, jobGeneration: job?.generation }, 'rank task is stale; skipping');
    return 'stale';
  }
  const jobMetrics = ctx.metrics?.forJob(task.jobId);
  const collective = new RedisCollective({
    redis: ctx.redis,
    group: ctx.keys.collectiveGroup(task.jobId, task.generation),
    rank: task.rank,
    world: task.world,
    timeoutMs: job.spec.collective.timeoutMs,
    signal: ctx.signal,
    ...(jobMetrics
      ? { metrics: { bytes: jobMetrics.allReduceBytes, seconds: jobMetrics.allReduceSeconds } }
      : {}),
  });
  let program: ClassifierProgram | null = null;
  try {
    let drained = false;
    program = await train(
      ctx,
      job,
      collective,
      jobMetrics,
      log,
      (p) => {
        program = p;
      },
      () => {
        drained = true;
      },
    );
    return drained ? 'drained' : 'succeeded';
  } catch (err) {
    const current = await store.getState(task.jobId).catch(() => null);
    const endedElsewhere =
      current !== null && (!isLive(current.state) || current.generation !== task.generation);
    if (
      endedElsewhere &&
      (ctx.signal.aborted ||
        isTrainyardError(err, Errors.COLLECTIVE_ABORTED) ||
        isTrainyardError(err, Errors.COLLECTIVE_TIMEOUT))
    ) {
      log.info({ state: current?.state }, 'rank stopped: the generation ended elsewhere');
      return current?.state === 'CANCELLED' ? 'cancelled' : 'stale';
    }
    const failure = describeError(err);
    // A failure a restart cannot cure (bad data, NaN, ranks that disagree) fails the job now.
    const retryable = err instanceof TrainyardError ? err.retryable : true;
    log.error({ err, retryable }, 'rank failed');
    const ended = await store
      .failGeneration(task.jobId, task.generation, {
        ...failure,
        rank: task.rank,
        workerId: ctx.workerId,
        retryable,
      })
      .catch((e: unknown) => {
        log.error({ err: e }, 'could not record the failure');
        return null;
      });
    if (ended?.result === StoreResult.OK) log.warn({ state: ended.state }, 'generation ended by this rank');
    return 'failed';
  } finally {
    ctx.metrics?.releaseJob(task.jobId);
    (program as ClassifierProgram | null)?.dispose();
    await collective.close();
  }
}

interface ResumePoint {
  readonly step: number;
  readonly epoch: number;
  /** The next step to run within `epoch`. */
  readonly cursor: number;
}

/**
 * Loads the newest checkpoint of the job whose manifest verifies (sizes, sha256) and that
 * belongs to this spec and dataset, falling back to older ones; null when there is none
 * (a fresh start). Every rank reads the same record, so every rank picks the same one (the
 * rendezvous checks it).
 */
async function loadLatestCheckpoint(
  ctx: RankContext,
  job: JobRecord,
  program: ClassifierProgram,
  datasetVersion: string,
  log: Logger,
): Promise<ResumePoint | null> {
  const wanted = specHash(job.spec);
  let touched = false;
  for (const ref of [...job.checkpoints].reverse()) {
    try {
      const { manifest, files } = await readCheckpoint(ctx.objects, ref.manifestKey);
      if (manifest.meta.specHash !== wanted || manifest.meta.datasetVersion !== datasetVersion) {
        log.warn({ manifest: ref.manifestKey }, 'checkpoint belongs to another spec or dataset; skipped');
        continue;
      }
      const state = JSON.parse(files['state.json']!.toString('utf8')) as ResumePoint;
      touched = true;
      program.importWeights(decodeNamedArrays(files['weights.bin']!));
      await program.importOptimizerState(decodeNamedArrays(files['optimizer.bin']!));
      log.info({ step: state.step, manifest: ref.manifestKey }, 'resuming from checkpoint');
      return { step: state.step, epoch: state.epoch, cursor: state.cursor };
    } catch (err) {
      // A store that cannot be reached says nothing about the checkpoint: falling back to an
      // older one (or to step 0) would redo work and could overwrite and prune the good one.
      if (isTrainyardError(err, Errors.STORE_UNAVAILABLE) || isTrainyardError(err, Errors.STORE_REJECTED))
        throw err;
      log.warn({ err, manifest: ref.manifestKey }, 'checkpoint unusable; trying the previous one');
    }
  }
  if (touched) {
    // A checkpoint was half restored and none could be restored whole: the model is neither
    // a checkpoint nor the seeded start, so nothing may train from it.
    throw new TrainyardError(Errors.CHECKPOINT_CORRUPT, `no checkpoint of ${job.id} could be restored whole`);
  }
  return null;
}

async function train(
  ctx: RankContext,
  job: JobRecord,
  collective: RedisCollective,
  metrics: JobMetrics | undefined,
  log: Logger,
  own: (p: ClassifierProgram) => void,
  onDrained: () => void,
): Promise<ClassifierProgram> {
  const { task, store } = ctx;
  const spec = job.spec;
  const data = (ctx.loadData ?? loadDataset)(spec.dataset);
  const { train: trainSet, test } = data;
  const program = new ClassifierProgram(
    buildModel(spec.model, trainSet.sampleShape, trainSet.numClasses, spec.seed),
    createOptimizer(spec.optimizer),
    trainSet.numClasses,
  );
  own(program);
  const plan = new EpochPlan(trainSet.size, spec.batchSize, task.world, spec.seed);
  const resume = await loadLatestCheckpoint(ctx, job, program, data.version, log);
  const resumedFrom = resume ? (job.checkpoints.find((c) => c.step === resume.step) ?? null) : null;

  // Check before trusting peers: same parameter count and bit-identical initial weights.
  const info: RendezvousInfo = {
    rank: task.rank,
    workerId: ctx.workerId,
    weightsHash: program.weightsHash(),
    parameterCount: program.parameterCount,
    backend: ctx.backend,
    resumeStep: resume?.step ?? 0,
  };
  const members = await collective.rendezvous(info);
  const mismatch = members.find(
    (m) => m.weightsHash !== info.weightsHash || m.parameterCount !== info.parameterCount,
  );
  if (mismatch) {
    throw new TrainyardError(
      Errors.COLLECTIVE_MISMATCH,
      `initial weights differ: rank ${task.rank} has ${info.weightsHash} (${info.parameterCount} parameters), ` +
        `rank ${mismatch.rank} has ${mismatch.weightsHash} (${mismatch.parameterCount} parameters)`,
    );
  }
  log.info(
    { world: task.world, parameters: program.parameterCount, backend: ctx.backend.name },
    'rendezvous complete',
  );
  if (task.rank === 0) {
    const backends = Object.fromEntries(members.map((m) => [String(m.rank), m.backend]));
    await store.change(task.jobId, { to: 'RUNNING', generation: task.generation, patch: { backends } });
  }

  const totalSteps = plan.stepsPerEpoch * spec.epochs;
  const checkpoints: CheckpointRef[] = [...job.checkpoints];
  const startedAt = Date.now();
  const progressInterval = ctx.progressIntervalMs ?? 500;
  let lastPublished = 0;
  let emaStepMs = 0;
  let globalStep = resume?.step ?? 0;
  const firstStep = globalStep;
  let loss = Number.NaN;
  // One control value rides along with every all-reduce: 1 from a rank whose worker is
  // draining. All ranks see the same mean, so all of them stop at the same step.
  let drainAgreed = false;
  const reduce = async (flat: Float32Array) => {
    const withControl = new Float32Array(flat.length + 1);
    withControl.set(flat);
    withControl[flat.length] = ctx.draining?.() ? 1 : 0;
    const reduced = await collective.allReduceMean(withControl);
    drainAgreed = reduced[flat.length]! > 0;
    return reduced.subarray(0, flat.length);
  };
  let skipped = 0;

  // Every rank applies the same reduced bytes, so every rank must hold the same weights; a
  // rank that drifted (a bad kernel, memory corruption) ends the generation, which restarts
  // from the last checkpoint.
  const checkWeightsAgree = async (when: string) => {
    const hash = program.weightsHash();
    const hashes = await collective.allGather(Buffer.from(hash));
    const differing = hashes.findIndex((h) => h.toString() !== hash);
    if (differing >= 0) {
      throw new TrainyardError(
        Errors.WEIGHTS_DIVERGED,
        `${when} check at step ${globalStep}: rank ${task.rank} has weights ${hash}, rank ${differing} has ${hashes[differing]!.toString()}`,
      );
    }
  };

  const saveCheckpoint = async (epoch: number, stepInEpoch: number) => {
    const t0 = performance.now();
    const written = await writeCheckpoint(ctx.objects, {
      jobId: task.jobId,
      generation: task.generation,
      step: globalStep,
      epoch,
      files: {
        'weights.bin': encodeNamedArrays(program.exportWeights()),
        'optimizer.bin': encodeNamedArrays(await program.exportOptimizerState()),
        'state.json': Buffer.from(
          JSON.stringify({
            step: globalStep,
            epoch,
            // The data cursor: the next step to run within `epoch`; the shuffle of epoch e is
            // seeded by (spec.seed, e), so (seed, epoch, cursor) is the whole RNG state.
            cursor: stepInEpoch,
            rng: { seed: spec.seed, epoch, kind: 'sfc32-epoch-permutation' },
            loss,
            world: task.world,
            weightsHash: program.weightsHash(),
          }),
        ),
      },
      meta: { datasetVersion: data.version, specHash: specHash(spec), backend: ctx.backend.name },
      signal: ctx.signal,
    });
    const ref: CheckpointRef = {
      step: globalStep,
      epoch,
      manifestKey: written.manifestKey,
      manifestSha256: written.manifestSha256,
      bytes: written.bytes,
      createdAt: written.manifest.createdAt,
    };
    checkpoints.push(ref);
    metrics?.checkpointSeconds.observe((performance.now() - t0) / 1000);
    metrics?.checkpointBytes.inc(written.bytes);
    // Keep the newest keepLast (and the one this generation resumed from until enough newer
    // ones exist): the record first, so a reader never picks a checkpoint being deleted.
    const keep = new Set(checkpoints.slice(-spec.checkpoint.keepLast).map((c) => c.manifestKey));
    if (
      resumedFrom &&
      checkpoints.filter((c) => c.step > resumedFrom.step).length < spec.checkpoint.keepLast
    ) {
      keep.add(resumedFrom.manifestKey);
    }
    const pruned = checkpoints.filter((c) => !keep.has(c.manifestKey));
    checkpoints.splice(0, checkpoints.length, ...checkpoints.filter((c) => keep.has(c.manifestKey)));
    await store.change(task.jobId, {
      from: ['RUNNING'],
      generation: task.generation,
      patch: { checkpoints },
      event: {
        type: 'checkpoint',
        ts: new Date().toISOString(),
        generation: task.generation,
        checkpoint: ref,
      },
    });
    for (const old of pruned) {
      await deleteCheckpoint(ctx.objects, old.manifestKey).catch((err: unknown) =>
        log.warn({ err, manifest: old.manifestKey }, 'could not delete a pruned checkpoint'),
      );
    }
    log.info({ step: globalStep, manifest: written.manifestKey, bytes: written.bytes }, 'checkpoint written');
  };

  const publishProgress = async (epoch: number, force: boolean) => {
    const now = Date.now();
    if (!force && now - lastPublished < progressInterval) return;
    lastPublished = now;
    const elapsed = (now - startedAt) / 1000;
    const progress: JobProgress = {
      epoch,
      epochs: spec.epochs,
      step: globalStep,
      totalSteps,
      samples: globalStep * spec.batchSize,
      loss,
      samplesPerSec: elapsed > 0 ? ((globalStep - firstStep) * spec.batchSize) / elapsed : 0,
      etaSeconds: emaStepMs > 0 ? ((totalSteps - globalStep) * emaStepMs) / 1000 : 0,
    };
    metrics?.samplesPerSecond.set(progress.samplesPerSec);
    await store.change(task.jobId, {
      from: ['RUNNING'],
      generation: task.generation,
      patch: { progress },
      event: { type: 'progress', ts: new Date(now).toISOString(), generation: task.generation, progress },
    });
  };

  // Resume exactly where the checkpoint left off: the same epoch's shuffle, the next step.
  const startEpoch = resume ? resume.epoch + Math.floor(resume.cursor / plan.stepsPerEpoch) : 0;
  const startCursor = resume ? resume.cursor % plan.stepsPerEpoch : 0;
  for (let epoch = startEpoch; epoch < spec.epochs; epoch++) {
    for (let s = epoch === startEpoch ? startCursor : 0; s < plan.stepsPerEpoch; s++) {
      checkAborted(ctx.signal);
      const t0 = performance.now();
      const batch = gatherBatch(trainSet, plan.rankBatch(epoch, s, task.rank));
      try {
        const result = await program.step(batch, reduce);
        loss = result.loss;
        metrics?.trainAccuracy.set(result.localAccuracy);
      } catch (err) {
        if (isTrainyardError(err, Errors.TRAINING_NONFINITE)) metrics?.nonFiniteSteps.inc();
        // Every rank applies the same reduced bytes, so every rank takes this decision alike.
        if (!isTrainyardError(err, Errors.TRAINING_NONFINITE) || spec.onNonFinite.action !== 'skip')
          throw err;
        skipped++;
        if (skipped > spec.onNonFinite.maxSkippedSteps) {
          throw new TrainyardError(
            Errors.TRAINING_NONFINITE,
            `${err.message}; ${skipped} steps skipped, more than onNonFinite.maxSkippedSteps ${spec.onNonFinite.maxSkippedSteps}`,
          );
        }
        if (task.rank === 0) {
          await store.appendEvent(task.jobId, {
            type: 'log',
            ts: new Date().toISOString(),
            generation: task.generation,
            level: 'warn',
            message: `step ${globalStep + 1} skipped (${skipped} of at most ${spec.onNonFinite.maxSkippedSteps}): ${err.message}`,
          });
        }
      }
      globalStep++;
      const every = spec.collective.checkWeightsEverySteps;
      if (every > 0 && globalStep % every === 0) await checkWeightsAgree('periodic');
      const ms = performance.now() - t0;
      emaStepMs = emaStepMs === 0 ? ms : 0.9 * emaStepMs + 0.1 * ms;
      metrics?.stepSeconds.observe(ms / 1000);
      metrics?.steps.inc();
      metrics?.samples.inc(batch.size);
      metrics?.loss.set(loss);
      const last = globalStep === totalSteps;
      const drainNow = drainAgreed && !last;
      if (task.rank === 0) {
        if (globalStep % spec.checkpoint.everySteps === 0 || last || drainNow)
          await saveCheckpoint(epoch, s + 1);
        await publishProgress(epoch, last || drainNow || s === plan.stepsPerEpoch - 1);
      }
      if (drainNow) {
        if (task.rank === 0) {
          await store.failGeneration(task.jobId, task.generation, {
            code: Errors.WORKER_DRAINING.code,
            message: `a worker of the job is shutting down; checkpointed at step ${globalStep}`,
            rank: null,
            workerId: null,
            retryable: true,
            counted: false,
          });
        }
        log.info({ step: globalStep }, 'drained: checkpointed and handed over');
        onDrained();
        return program;
      }
    }
  }

  await checkWeightsAgree('final');

  if (task.rank === 0) {
    const evaluation = program.evaluate(test.x, test.y);
    const { perClass, ...headline } = evaluation;
    metrics?.testAccuracy.set(evaluation.accuracy);
    log.info({ evaluation: headline }, 'evaluation on the held-out set');
    const done = await store.change(task.jobId, {
      to: 'SUCCEEDED',
      generation: task.generation,
      patch: { evaluation, checkpoints },
    });
    if (done.result < 0)
      log.warn({ result: done.result, state: done.state }, 'could not mark the job SUCCEEDED');
  } else {
    // Stay "running" until rank 0 has ended the job: a worker that stops reporting a rank of
    // a RUNNING job looks like a rank that died (the scheduler then ends the generation).
    const deadline = Date.now() + spec.collective.timeoutMs;
    while (Date.now() < deadline && !ctx.signal.aborted) {
      const s = await store.getState(task.jobId);
      if (!s || s.generation !== task.generation || !isLive(s.state)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return program;
}
