import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { Errors, type OptimizerSpec, TrainyardError } from '@trainyard/core';
import { classificationReport, confusionMatrix } from './classification-metrics.js';

/** One batch as plain arrays (features row-major, labels one-hot). */
export interface ClassifierBatch {
  readonly size: number;
  readonly x: Float32Array;
  readonly yOneHot: Float32Array;
}

/** Given this rank's flat gradient (plus its loss as the last value), returns the mean over ranks. */
export type Reducer = (flat: Float32Array) => Promise<Float32Array>;

export interface StepResult {
  /** Mean loss over the global batch (all ranks). */
  readonly loss: number;
  /** Accuracy of this rank's own batch, from the forward pass of the step (before the update). */
  readonly localAccuracy: number;
}

export interface NamedArrays {
  readonly specs: readonly { name: string; shape: number[] }[];
  readonly data: Float32Array;
}

export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  switch (spec.name) {
    case 'sgd':
      return tf.train.sgd(spec.learningRate);
    case 'adam':
      return tf.train.adam(spec.learningRate, spec.beta1, spec.beta2, spec.epsilon);
  }
}

/**
 * The training program of a classifier: softmax cross-entropy on logits, one variable
 * group (every trainable weight), and evaluation by accuracy, precision, recall and F1.
 *
 * A step is: gradients (in one tf.tidy) -> reduce (all-reduce mean over ranks) -> check
 * finite -> apply. Re-entry is refused: steps are strictly sequential.
 */
export class ClassifierProgram {
  readonly variables: tf.Variable[];
  readonly parameterCount: number;
  private readonly inputShape: number[];
  private busy = false;

  constructor(
    readonly model: tf.LayersModel,
    readonly optimizer: tf.Optimizer,
    readonly numClasses: number,
  ) {
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.parameterCount = this.variables.reduce((a, v) => a + v.size, 0);
    const shape = model.inputs[0]!.shape;
    this.inputShape = shape.slice(1).map((d) => d ?? 1);
  }

  private inputTensor(batch: ClassifierBatch): tf.Tensor {
    return tf.tensor(batch.x, [batch.size, ...this.inputShape]);
  }

  private loss(logits: tf.Tensor, yOneHot: tf.Tensor): tf.Scalar {
    return tf.losses.softmaxCrossEntropy(yOneHot, logits) as tf.Scalar;
  }

  /** This rank's gradients of its batch, flattened in variable order, with the loss appended. */
  computeGradients(batch: ClassifierBatch): Float32Array {
    return this.computeGradientsAndAccuracy(batch).flat;
  }

  /** As computeGradients, plus the accuracy of the batch from the same forward pass. */
  private computeGradientsAndAccuracy(batch: ClassifierBatch): { flat: Float32Array; accuracy: number } {
    // The tidy returns the tensors, not the flat array: tidy walks whatever it returns, and
    // walking a 235k-element typed array costs more than the whole backward pass.
    // Kept out of the tidy (it is made inside variableGrads' own scope); disposed on every path.
    let hits: tf.Tensor | null = null;
    let tensors: { value: tf.Scalar; grads: tf.Tensor[] };
    try {
      tensors = tf.tidy(() => {
        const x = this.inputTensor(batch);
        const y = tf.tensor2d(batch.yOneHot, [batch.size, this.numClasses]);
        const result = tf.variableGrads(() => {
          const logits = this.model.apply(x, { training: true }) as tf.Tensor;
          // Off the loss's path, so it changes no gradient.
          hits = tf.keep(logits.argMax(-1).equal(y.argMax(-1)).sum());
          return this.loss(logits, y);
        }, this.variables);
        const ordered = this.variables.map((v) => {
          const g = result.grads[v.name];
          if (!g) throw new Error(`no gradient for variable ${v.name}`);
          return g;
        });
        return { value: result.value, grads: ordered };
      });
    } catch (err) {
      (hits as tf.Tensor | null)?.dispose();
      throw err;
    }
    const { value, grads } = tensors;
    const correct = hits as unknown as tf.Tensor;
    try {
      const flat = new Float32Array(this.parameterCount + 1);
      let offset = 0;
      for (const g of grads) {
        flat.set(g.dataSync() as Float32Array, offset);
        offset += g.size;
      }
      flat[offset] = value.dataSync()[0]!;
      const accuracy = batch.size > 0 ? (correct.dataSync()[0] ?? 0) / batch.size : 0;
      return { flat, accuracy };
    } finally {
      tf.dispose([value, correct, ...grads]);
    }
  }

  /** Applies a reduced flat gradient (as made by computeGradients, loss last). */
  applyGradients(reduced: Float32Array): void {
    if (reduced.length !== this.parameterCount + 1) {
      throw new RangeError(
        `reduced gradient has ${reduced.length} values, expected ${this.parameterCount + 1}`,
      );
    }
    tf.tidy(() => {
      const named: tf.NamedTensorMap = {};
      let offset = 0;
      for (const v of this.variables) {
        named[v.name] = tf.tensor(reduced.subarray(offset, offset + v.size), v.shape);
        offset += v.size;
      }
      this.optimizer.applyGradients(named);
    });
  }

  /** One data-parallel step: gradients -> reduce -> finite check -> apply. */
  async step(batch: ClassifierBatch, reduce: Reducer): Promise<StepResult> {
    if (this.busy) throw new Error('ClassifierProgram.step re-entered: steps must run one at a time');
    this.busy = true;
    try {
      const { flat: local, accuracy: localAccuracy } = this.computeGradientsAndAccuracy(batch);
      const reduced = await reduce(local);
      const loss = reduced[reduced.length - 1]!;
      // x * 0 is NaN exactly when x is NaN or infinite, so one pass tells whether any is.
      let probe = 0;
      for (let i = 0; i < reduced.length; i++) probe += reduced[i]! * 0;
      if (Number.isNaN(probe)) {
        const i = reduced.findIndex((v) => !Number.isFinite(v));
        throw new TrainyardError(
          Errors.TRAINING_NONFINITE,
          i === reduced.length - 1
            ? `loss is ${loss}`
            : `gradient value ${i} is ${reduced[i]} (loss ${loss})`,
        );
      }
      this.applyGradients(reduced);
      return { loss, localAccuracy };
    } finally {
      this.busy = false;
    }
  }

  /** Predicted classes and mean loss over a labelled set, in batches. */
  evaluate(x: Float32Array, labels: Uint8Array, batchSize = 500) {
    const n = labels.length;
    const featureSize = this.inputShape.reduce((a, b) => a * b, 1);
    const predictions = new Uint8Array(n);
    let lossSum = 0;
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      tf.tidy(() => {
        const xb = tf.tensor(x.subarray(start * featureSize, (start + size) * featureSize), [
          size,
          ...this.inputShape,
        ]);
        const logits = this.model.apply(xb, { training: false }) as tf.Tensor;
        const yb = tf.oneHot(tf.tensor1d(labels.subarray(start, start + size), 'int32'), this.numClasses);
        lossSum += (this.loss(logits, yb).dataSync()[0] ?? 0) * size;
        predictions.set(logits.argMax(-1).dataSync() as Int32Array as unknown as ArrayLike<number>, start);
      });
    }
    return classificationReport(
      confusionMatrix(labels, predictions, this.numClasses),
      n === 0 ? 0 : lossSum / n,
    );
  }

  /** Every weight (trainable or not) as one flat float32 array plus names and shapes. */
  exportWeights(): NamedArrays {
    return flattenTensors(this.model.weights.map((w) => ({ name: w.name, tensor: w.read() })));
  }

  importWeights(weights: NamedArrays): void {
    const expected = this.model.weights.map((w) => w.shape.join('x')).join(',');
    const got = weights.specs.map((s) => s.shape.join('x')).join(',');
    if (expected !== got) throw new RangeError(`weights shapes ${got} do not match the model's ${expected}`);
    const tensors = unflatten(weights);
    this.model.setWeights(tensors);
    tf.dispose(tensors);
  }

  /** sha256 over the weights' shapes and bytes: equal on ranks that hold bit-identical weights. */
  weightsHash(): string {
    const w = this.exportWeights();
    return createHash('sha256')
      .update(JSON.stringify(w.specs.map((s) => s.shape)))
      .update(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))
      .digest('hex');
  }

  async exportOptimizerState(): Promise<NamedArrays> {
    const named = await this.optimizer.getWeights();
    // Slot names carry the variable names; store them by variable position so they restore
    // into a model whose variables were named differently.
    const index = new Map(this.variables.map((v, i) => [v.name, i]));
    const renamed = named.map(({ name, tensor }) => {
      const slash = name.lastIndexOf('/');
      const base = slash >= 0 ? name.slice(0, slash) : name;
      const i = index.get(base);
      return { name: i === undefined ? name : `var${i}${name.slice(slash)}`, tensor };
    });
    const out = flattenTensors(renamed);
    return out;
  }

  async importOptimizerState(state: NamedArrays): Promise<void> {
    const tensors = unflatten(state);
    const named = state.specs.map((s, i) => {
      const m = /^var(\d+)(\/.*)$/.exec(s.name);
      const v = m ? this.variables[Number(m[1])] : undefined;
      return { name: v && m ? `${v.name}${m[2]}` : s.name, tensor: tensors[i]! };
    });
    await this.optimizer.setWeights(named);
    restoreAdamBetaPowers(this.optimizer);
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

/**
 * tfjs's Adam keeps beta1^t and beta2^t as running float32 products (one multiply per step),
 * but its setWeights recomputes them with pow(), which can differ in the last bit; a resumed
 * run would then drift from an uninterrupted one. Recompute them as the running product.
 */
function restoreAdamBetaPowers(optimizer: tf.Optimizer): void {
  const adam = optimizer as unknown as {
    accBeta1?: tf.Variable;
    accBeta2?: tf.Variable;
    beta1: number;
    beta2: number;
    iterations: number;
  };
  if (!(optimizer instanceof tf.AdamOptimizer) || !adam.accBeta1 || !adam.accBeta2) return;
  const product = (beta: number) => {
    const b = Math.fround(beta);
    let acc = b;
    for (let i = 0; i < adam.iterations; i++) acc = Math.fround(acc * b);
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(product(adam.beta1)));
    adam.accBeta2!.assign(tf.scalar(product(adam.beta2)));
  });
}

function flattenTensors(list: { name: string; tensor: tf.Tensor }[]): NamedArrays {
  const total = list.reduce((a, t) => a + t.tensor.size, 0);
  const data = new Float32Array(total);
  let offset = 0;
  const specs = list.map(({ name, tensor }) => {
    data.set(tensor.dataSync() as Float32Array, offset);
    offset += tensor.size;
    return { name, shape: tensor.shape.slice() };
  });
  return { specs, data };
}

function unflatten(arrays: NamedArrays): tf.Tensor[] {
  let offset = 0;
  return arrays.specs.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(arrays.data.slice(offset, offset + size), s.shape);
    offset += size;
    return t;
  });
}

/** Encodes named arrays as bytes: 4-byte header length, JSON header, then float32 data. */
export function encodeNamedArrays(arrays: NamedArrays): Buffer {
  const header = Buffer.from(JSON.stringify(arrays.specs));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.byteLength);
  return Buffer.concat([
    len,
    header,
    Buffer.from(arrays.data.buffer, arrays.data.byteOffset, arrays.data.byteLength),
  ]);
}

export function decodeNamedArrays(bytes: Uint8Array): NamedArrays {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = buf.readUInt32LE(0);
  const specs = JSON.parse(buf.subarray(4, 4 + headerLength).toString('utf8')) as NamedArrays['specs'];
  const raw = buf.subarray(4 + headerLength);
  const data = new Float32Array(raw.byteLength / 4);
  Buffer.from(data.buffer).set(raw);
  return { specs, data };
}
