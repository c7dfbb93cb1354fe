import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBody } from '../error-handler.js';
import { type ApiFixture, apiFixture, validSpec } from '../test-support.js';

/**
 * POST /v1/jobs refuses every malformed JobSpec field with 400 TRAINYARD_ERR_SPEC_INVALID
 * naming that field's path, and creates and queues nothing.
 */

type Spec = Record<string, unknown> & {
  model: Record<string, unknown>;
  dataset: Record<string, unknown>;
  optimizer: Record<string, unknown>;
};
type Mutate = (spec: Spec) => void;

/** The object at a dotted path ('' = the spec itself) and the last key of `path`. */
function parentOf(spec: Spec, path: string): [Record<string, unknown>, string] {
  const parts = path.split('.');
  const last = parts.pop()!;
  let obj: Record<string, unknown> = spec;
  for (const part of parts) obj = obj[part] as Record<string, unknown>;
  return [obj, last];
}
const set =
  (path: string, value: unknown): Mutate =>
  (spec) => {
    const [obj, key] = parentOf(spec, path);
    obj[key] = value;
  };
const unset =
  (path: string): Mutate =>
  (spec) => {
    const [obj, key] = parentOf(spec, path);
    delete obj[key];
  };
const merge =
  (path: string, values: Record<string, unknown>): Mutate =>
  (spec) => {
    Object.assign(path === '' ? spec : parentOf(spec, `${path}.x`)[0], values);
  };

const cases: ReadonlyArray<readonly [string, Mutate, string]> = [
  // name
  ['name empty', set('name', ''), 'name'],
  ['name too long', set('name', 'x'.repeat(129)), 'name'],
  ['name not a string', set('name', 5), 'name'],
  // model
  ['model missing', unset('model'), 'model'],
  ['model not an object', set('model', 'mlp'), 'model'],
  ['model family unknown', set('model.family', 'rnn'), 'model.family'],
  ['cnn without conv blocks', set('model', { family: 'cnn' }), 'model.conv'],
  [
    'cnn with an mlp field',
    set('model', { family: 'cnn', conv: [{ filters: 8, kernelSize: 3 }], hidden: [8] }),
    'model.hidden',
  ],
  [
    'cnn kernel too large',
    set('model', { family: 'cnn', conv: [{ filters: 8, kernelSize: 12 }] }),
    'model.conv.0.kernelSize',
  ],
  [
    'cnn that shrinks the digits to nothing',
    set('model', {
      family: 'cnn',
      conv: [
        { filters: 8, kernelSize: 11 },
        { filters: 8, kernelSize: 11 },
      ],
    }),
    'model.conv.1',
  ],
  ['allowMixedBackends not a boolean', set('allowMixedBackends', 'yes'), 'allowMixedBackends'],
  ['model hidden missing', unset('model.hidden'), 'model.hidden'],
  ['model hidden empty', set('model.hidden', []), 'model.hidden'],
  ['model hidden too many layers', set('model.hidden', Array(17).fill(8)), 'model.hidden'],
  ['model hidden unit zero', set('model.hidden', [8, 0]), 'model.hidden.1'],
  ['model hidden unit too big', set('model.hidden', [4097]), 'model.hidden.0'],
  ['model hidden unit fractional', set('model.hidden', [1.5]), 'model.hidden.0'],
  ['model hidden unit a string', set('model.hidden', ['8']), 'model.hidden.0'],
  ['model activation unknown', set('model.activation', 'gelu'), 'model.activation'],
  ['model unknown key', set('model.dropout', 0.5), 'model.dropout'],
  // dataset
  ['dataset missing', unset('dataset'), 'dataset'],
  ['dataset name unknown', set('dataset.name', 'cifar10'), 'dataset.name'],
  ['dataset trainSize zero', set('dataset.trainSize', 0), 'dataset.trainSize'],
  ['dataset trainSize above 10000', set('dataset.trainSize', 10_001), 'dataset.trainSize'],
  ['dataset trainSize a string', set('dataset.trainSize', '1000'), 'dataset.trainSize'],
  ['dataset testSize zero', set('dataset.testSize', 0), 'dataset.testSize'],
  ['dataset testSize fractional', set('dataset.testSize', 10.5), 'dataset.testSize'],
  ['dataset splitSeed negative', set('dataset.splitSeed', -1), 'dataset.splitSeed'],
  ['dataset splitSeed above uint32', set('dataset.splitSeed', 2 ** 32), 'dataset.splitSeed'],
  ['dataset unknown key', set('dataset.path', '/etc/passwd'), 'dataset.path'],
  // workers
  ['workers missing', unset('workers'), 'workers'],
  ['workers zero', set('workers', 0), 'workers'],
  ['workers above 64', set('workers', 65), 'workers'],
  ['workers fractional', set('workers', 1.5), 'workers'],
  ['workers a string', set('workers', '2'), 'workers'],
  ['elastic workers min above max', set('workers', { min: 3, max: 2 }), 'workers.min'],
  ['elastic workers with an unknown key', set('workers', { min: 1, max: 2, step: 1 }), 'workers.step'],
  // batchSize
  ['batchSize missing', unset('batchSize'), 'batchSize'],
  ['batchSize zero', set('batchSize', 0), 'batchSize'],
  ['batchSize above 65536', set('batchSize', 65_537), 'batchSize'],
  ['batchSize not divisible by workers', merge('', { workers: 4, batchSize: 30 }), 'batchSize'],
  // optimizer
  ['optimizer missing', unset('optimizer'), 'optimizer'],
  ['optimizer name unknown', set('optimizer.name', 'rmsprop'), 'optimizer.name'],
  ['optimizer learningRate missing', unset('optimizer.learningRate'), 'optimizer.learningRate'],
  ['optimizer learningRate zero', set('optimizer.learningRate', 0), 'optimizer.learningRate'],
  ['optimizer learningRate negative', set('optimizer.learningRate', -0.1), 'optimizer.learningRate'],
  ['optimizer learningRate above 10', set('optimizer.learningRate', 11), 'optimizer.learningRate'],
  ['optimizer learningRate a string', set('optimizer.learningRate', '0.1'), 'optimizer.learningRate'],
  ['optimizer beta1 equal to 1', set('optimizer.beta1', 1), 'optimizer.beta1'],
  ['optimizer beta2 negative', set('optimizer.beta2', -0.1), 'optimizer.beta2'],
  ['optimizer epsilon zero', set('optimizer.epsilon', 0), 'optimizer.epsilon'],
  ['optimizer epsilon above 1', set('optimizer.epsilon', 2), 'optimizer.epsilon'],
  ['optimizer unknown key', set('optimizer.momentum', 0.9), 'optimizer.momentum'],
  // epochs
  ['epochs missing', unset('epochs'), 'epochs'],
  ['epochs zero', set('epochs', 0), 'epochs'],
  ['epochs above 1000', set('epochs', 1001), 'epochs'],
  ['epochs fractional', set('epochs', 2.5), 'epochs'],
  // seed
  ['seed negative', set('seed', -1), 'seed'],
  ['seed above uint32', set('seed', 2 ** 32), 'seed'],
  ['seed a string', set('seed', 'x'), 'seed'],
  // checkpoint
  ['checkpoint not an object', set('checkpoint', 100), 'checkpoint'],
  ['checkpoint everySteps zero', set('checkpoint', { everySteps: 0 }), 'checkpoint.everySteps'],
  [
    'checkpoint everySteps above limit',
    set('checkpoint', { everySteps: 1_000_001 }),
    'checkpoint.everySteps',
  ],
  ['checkpoint unknown key', set('checkpoint', { everySteps: 10, dir: '/tmp' }), 'checkpoint.dir'],
  // collective
  ['collective timeoutMs below 100', set('collective', { timeoutMs: 99 }), 'collective.timeoutMs'],
  ['collective timeoutMs above 1 h', set('collective', { timeoutMs: 3_600_001 }), 'collective.timeoutMs'],
  ['collective unknown key', set('collective', { transport: 'nccl' }), 'collective.transport'],
  // top level and cross-field rules
  ['unknown top-level key', set('priority', 10), 'priority'],
  [
    'trainSize + testSize above 10000',
    set('dataset', { name: 'mnist', trainSize: 9000, testSize: 2000 }),
    'dataset.trainSize',
  ],
  ['trainSize smaller than one batch', merge('dataset', { trainSize: 32 }), 'dataset.trainSize'],
];

describe('POST /v1/jobs refuses a malformed JobSpec', () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await apiFixture();
  });
  afterAll(async () => {
    await fx.close();
  });

  it.each(cases)('%s -> 400 naming %s', async (_label, mutate, path) => {
    const spec = structuredClone(validSpec()) as unknown as Spec;
    mutate(spec);
    const res = await fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_SPEC_INVALID');
    expect(body.error.retryable).toBe(false);
    expect(body.error.issues?.map((i) => i.path)).toContain(path);
    for (const issue of body.error.issues ?? []) expect(issue.message).toEqual(expect.any(String));
    expect(body.error.message).toContain(path);
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it('names every bad field at once, not only the first', async () => {
    const spec = structuredClone(validSpec()) as unknown as Spec;
    spec.optimizer.learningRate = -1;
    spec.workers = 0;
    spec.model.hidden = [0, 8, 9999];
    spec.extra = true;
    spec.dataset.bogus = 1;
    const res = await fx.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
    expect(res.statusCode).toBe(400);
    const paths = res.json<ErrorBody>().error.issues?.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'optimizer.learningRate',
        'workers',
        'model.hidden.0',
        'model.hidden.2',
        'extra',
        'dataset.bogus',
      ]),
    );
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });

  it.each([
    ['an array', []],
    ['a string', 'train please'],
    ['null', null],
    ['a number', 42],
  ])('a body that is %s -> 400 SPEC_INVALID at the root', async (_label, payload) => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('TRAINYARD_ERR_SPEC_INVALID');
    expect(body.error.issues).toEqual([{ path: '', message: expect.stringContaining('expected object') }]);
    expect(await fx.counts()).toEqual({ indexed: 0, queued: 0 });
  });
});
