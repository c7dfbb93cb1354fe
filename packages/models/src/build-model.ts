import * as tf from '@tensorflow/tfjs';
import { type ModelSpec, SeededRandom } from '@trainyard/core';

/**
 * Builds a model from its spec, with every weight initialised from the job's seed by
 * our own PRNG (Glorot-uniform kernels, zero biases): the same bytes on every rank,
 * machine and backend, which the rendezvous checks by hash.
 */
export function buildModel(
  spec: ModelSpec,
  inputShape: readonly number[],
  numClasses: number,
  seed: number,
): tf.LayersModel {
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  let model: tf.Sequential;
  switch (spec.family) {
    case 'mlp': {
      model = tf.sequential();
      spec.hidden.forEach((units, i) => {
        model.add(
          tf.layers.dense({
            units,
            activation: spec.activation,
            ...(i === 0 ? { inputShape: [inputSize] } : {}),
          }),
        );
      });
      model.add(tf.layers.dense({ units: numClasses }));
      break;
    }
    case 'cnn': {
      if (inputShape.length !== 3) {
        throw new RangeError(`a cnn needs [height, width, channels] samples, got [${inputShape.join(', ')}]`);
      }
      model = tf.sequential();
      spec.conv.forEach((block, i) => {
        model.add(
          tf.layers.conv2d({
            filters: block.filters,
            kernelSize: block.kernelSize,
            strides: block.strides,
            padding: block.padding,
            activation: spec.activation,
            ...(i === 0 ? { inputShape: inputShape.slice() } : {}),
          }),
        );
        if (block.pool > 1) model.add(tf.layers.maxPooling2d({ poolSize: block.pool, strides: block.pool }));
      });
      model.add(tf.layers.flatten());
      for (const units of spec.dense) model.add(tf.layers.dense({ units, activation: spec.activation }));
      model.add(tf.layers.dense({ units: numClasses }));
      break;
    }
  }
  seedWeights(model, seed);
  return model;
}

function seedWeights(model: tf.LayersModel, seed: number): void {
  const values = model.weights.map((w, index) => {
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (shape.length >= 2) {
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = shape[shape.length - 2]! * receptive;
      const fanOut = shape[shape.length - 1]! * receptive;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const rng = new SeededRandom(seed, index + 1);
      for (let i = 0; i < size; i++) data[i] = (rng.next() * 2 - 1) * limit;
    }
    return tf.tensor(data, shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}
