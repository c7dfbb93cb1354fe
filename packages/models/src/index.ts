/**
 * @trainyard/models — the model zoo and each model's training program (loss, variables,
 * the gradients -> reduce -> apply step, evaluation) and classification metrics. Knows
 * nothing of Redis, queues or HTTP.
 *
 *   const model = buildModel(spec.model, [784], 10, spec.seed);
 *   const program = new ClassifierProgram(model, createOptimizer(spec.optimizer), 10);
 *   const { loss } = await program.step(batch, (flat) => collective.allReduceMean(flat));
 */
export { buildModel } from './build-model.js';
export { classificationReport, confusionMatrix } from './classification-metrics.js';
export {
  type ClassifierBatch,
  ClassifierProgram,
  createOptimizer,
  decodeNamedArrays,
  encodeNamedArrays,
  type NamedArrays,
  type Reducer,
  type StepResult,
} from './classifier-program.js';
