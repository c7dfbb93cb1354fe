import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@trainyard/engine';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Every layer family the model zoo will hold completes training steps on the wasm backend
 * (with Trainyard's training kernels registered by initBackend) and leaks no tensor over 50
 * steps: dense, conv2d + pooling, conv2d-transpose, batch norm, dropout, embedding,
 * LSTM, GRU, layer norm, and attention built from matmul and softmax.
 */

const B = 8;

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, 0, 1, 'float32', seed);
}

function labels(n: number, classes: number): tf.Tensor {
  return tf.oneHot(
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7) % classes),
      'int32',
    ),
    classes,
  );
}

interface Family {
  name: string;
  build(): { model: tf.LayersModel | null; variables: tf.Variable[]; loss(): tf.Scalar; dispose(): void };
}

function classifier(layers: tf.layers.Layer[], x: tf.Tensor, classes = 4): ReturnType<Family['build']> {
  const model = tf.sequential({ layers });
  const y = labels(x.shape[0]!, classes);
  return {
    model,
    variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
    loss: () =>
      tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    dispose: () => {
      model.dispose();
      tf.dispose([x, y]);
    },
  };
}

const families: Family[] = [
  {
    name: 'dense',
    build: () =>
      classifier(
        [tf.layers.dense({ inputShape: [12], units: 16, activation: 'relu' }), tf.layers.dense({ units: 4 })],
        rand([B, 12], 1),
      ),
  },
  {
    name: 'conv2d + max/avg pooling',
    build: () =>
      classifier(
        [
          tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', dilationRate: 1 }),
          tf.layers.averagePooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 4 }),
        ],
        rand([B, 12, 12, 2], 2),
      ),
  },
  {
    name: 'depthwise/separable conv2d',
    build: () =>
      classifier(
        [
          tf.layers.depthwiseConv2d({ inputShape: [10, 10, 3], kernelSize: 3, depthMultiplier: 2 }),
          tf.layers.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
          tf.layers.globalAveragePooling2d({}),
          tf.layers.dense({ units: 4 }),
        ],
        rand([B, 10, 10, 3], 3),
      ),
  },
  {
    name: 'conv2d-transpose (autoencoder)',
    build: () => {
      const x = rand([B, 8, 8, 1], 4);
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [8, 8, 1],
            filters: 4,
            kernelSize: 3,
            strides: 2,
            padding: 'same',
            activation: 'relu',
          }),
          tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same' }),
        ],
      });
      return {
        model,
        variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
        loss: () =>
          tf.losses.meanSquaredError(x, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        dispose: () => {
          model.dispose();
          x.dispose();
        },
      };
    },
  },
  {
    name: 'batch norm',
    build: () =>
      classifier(
        [
          tf.layers.dense({ inputShape: [12], units: 16 }),
          tf.layers.batchNormalization({}),
          tf.layers.activation({ activation: 'relu' }),
          tf.layers.dense({ units: 4 }),
        ],
        rand([B, 12], 5),
      ),
  },
  {
    name: 'dropout',
    build: () =>
      classifier(
        [
          tf.layers.dense({ inputShape: [12], units: 16, activation: 'relu' }),
          tf.layers.dropout({ rate: 0.3 }),
          tf.layers.dense({ units: 4 }),
        ],
        rand([B, 12], 6),
      ),
  },
  {
    name: 'embedding',
    build: () =>
      classifier(
        [
          tf.layers.embedding({ inputDim: 50, outputDim: 8, inputLength: 6 }),
          tf.layers.globalAveragePooling1d({}),
          tf.layers.dense({ units: 4 }),
        ],
        tf.tensor2d(
          Array.from({ length: B * 6 }, (_, i) => (i * 13) % 50),
          [B, 6],
          'int32',
        ),
      ),
  },
  {
    name: 'LSTM',
    build: () =>
      classifier(
        [tf.layers.lstm({ inputShape: [5, 3], units: 8 }), tf.layers.dense({ units: 4 })],
        rand([B, 5, 3], 7),
      ),
  },
  {
    name: 'GRU',
    build: () =>
      classifier(
        [tf.layers.gru({ inputShape: [5, 3], units: 8 }), tf.layers.dense({ units: 4 })],
        rand([B, 5, 3], 8),
      ),
  },
  {
    name: 'layer norm',
    build: () =>
      classifier(
        [
          tf.layers.dense({ inputShape: [12], units: 16 }),
          tf.layers.layerNormalization({}),
          tf.layers.dense({ units: 4 }),
        ],
        rand([B, 12], 9),
      ),
  },
  {
    name: 'attention (matmul + softmax)',
    build: () => {
      const T = 6;
      const d = 8;
      const x = rand([B, T, d], 10);
      const y = labels(B, 4);
      const v = (name: string, shape: number[], seed: number) =>
        tf.variable(tf.randomNormal(shape, 0, 0.3, 'float32', seed), true, name);
      const suffix = Math.random().toString(36).slice(2);
      const [wq, wk, wv, wo] = ['q', 'k', 'v', 'o'].map((n, i) =>
        v(`attn-${n}-${suffix}`, n === 'o' ? [d, 4] : [d, d], 20 + i),
      ) as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const loss = () => {
        const q = tf.matMul(x.reshape([B * T, d]), wq).reshape([B, T, d]);
        const k = tf.matMul(x.reshape([B * T, d]), wk).reshape([B, T, d]);
        const val = tf.matMul(x.reshape([B * T, d]), wv).reshape([B, T, d]);
        const scores = tf.softmax(tf.matMul(q, k, false, true).div(Math.sqrt(d)));
        const attended = tf.matMul(scores, val).mean(1);
        return tf.losses.softmaxCrossEntropy(y, tf.matMul(attended, wo)) as tf.Scalar;
      };
      return {
        model: null,
        variables: [wq, wk, wv, wo],
        loss,
        dispose: () => tf.dispose([x, y, wq, wk, wv, wo]),
      };
    },
  },
];

describe('every layer family trains on wasm without leaking tensors', () => {
  beforeAll(async () => {
    const backend = await initBackend('wasm');
    expect(backend.name).toBe('wasm');
  });

  it.each(families.map((f) => [f.name, f] as const))('%s', (_name, family) => {
    const built = family.build();
    const optimizer = tf.train.adam(0.01);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(built.loss, built.variables);
        optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        return value.dataSync()[0]!;
      });
    const first = step();
    step(); // optimizer slots exist after the first steps
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 50; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    built.dispose();
  });
});
