/**
 * Matrix products on the wasm backend: the stock tfjs-backend-wasm BatchMatMul kernel against
 * the engine's fast path (`installWasmMatMulFastPath`), measured in the same run.
 *
 *   node --import tsx benchmarks/matmul.ts [--json] [--reps 15] [--steps 10] [--no-cnn] [--no-torch]
 *
 * Products: the MLP 784-256-128-10 at batch 32 and 64, each layer's forward x·W and the two
 * backward forms of every training step, dW = xᵀ·dy (transposeA) and dx = dy·Wᵀ (transposeB).
 * For every product and repetition the two kernels run back to back (re-registered in
 * between), so that noise from other work on the machine hits both alike; we report the
 * median GFLOP/s (2·m·k·n per product) over repetitions and the ratio fast/stock.
 *
 * Training steps: ms per step of that MLP (Adam, batch 64, random data) through
 * ClassifierProgram with an identity reducer, stock vs fast, interleaved by repetition; the
 * same without ClassifierProgram's flat-gradient round trip (what the kernels cost); then,
 * for reference, the CNN conv3x3x16-pool-conv3x3x32-pool-dense64-dense10 (which the stock
 * wasm backend cannot train at all: no Conv2DBackpropFilter) with the engine's kernels, and
 * PyTorch's ms/step for both from ../shared/bench/torch_train_step.py when torch is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@trainyard/core';
import { initBackend, installWasmMatMulFastPath, uninstallWasmMatMulFastPath } from '@trainyard/engine';
import { buildModel, type ClassifierBatch, ClassifierProgram, createOptimizer } from '@trainyard/models';

const HERE = dirname(fileURLToPath(import.meta.url));
const TORCH_SCRIPT = resolve(HERE, '../../shared/bench/torch_train_step.py');
const MIN_MS_PER_SAMPLE = 20;

interface Args {
  json: boolean;
  reps: number;
  steps: number;
  cnn: boolean;
  torch: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { json: false, reps: 15, steps: 10, cnn: true, torch: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--no-cnn') args.cnn = false;
    else if (a === '--no-torch') args.torch = false;
    else if (a === '--reps') args.reps = Number(argv[++i]);
    else if (a === '--steps') args.steps = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  for (const n of [args.reps, args.steps]) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`bad number in arguments: ${n}`);
  }
  return args;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Variant = 'stock' | 'fast';
const VARIANTS: Variant[] = ['stock', 'fast'];

function use(variant: Variant): void {
  if (variant === 'fast') installWasmMatMulFastPath();
  else uninstallWasmMatMulFastPath();
}

interface Product {
  name: string;
  batch: number;
  form: 'a·b' | 'aᵀ·b' | 'a·bᵀ';
  m: number;
  k: number;
  n: number;
  a: tf.Tensor2D;
  b: tf.Tensor2D;
  transposeA: boolean;
  transposeB: boolean;
}

const LAYERS: [number, number][] = [
  [784, 256],
  [256, 128],
  [128, 10],
];

function products(): Product[] {
  const out: Product[] = [];
  for (const batch of [32, 64]) {
    for (const [inputs, units] of LAYERS) {
      const name = `${inputs}→${units}`;
      const x = tf.randomNormal([batch, inputs]) as tf.Tensor2D;
      const w = tf.randomNormal([inputs, units]) as tf.Tensor2D;
      const dy = tf.randomNormal([batch, units]) as tf.Tensor2D;
      const common = { name, batch };
      out.push({
        ...common,
        form: 'a·b',
        m: batch,
        k: inputs,
        n: units,
        a: x,
        b: w,
        transposeA: false,
        transposeB: false,
      });
      out.push({
        ...common,
        form: 'aᵀ·b',
        m: inputs,
        k: batch,
        n: units,
        a: x,
        b: dy,
        transposeA: true,
        transposeB: false,
      });
      out.push({
        ...common,
        form: 'a·bᵀ',
        m: batch,
        k: units,
        n: inputs,
        a: dy,
        b: w,
        transposeA: false,
        transposeB: true,
      });
    }
  }
  return out;
}

/** Seconds per product, timing enough back-to-back products to take MIN_MS_PER_SAMPLE. */
function secondsPerProduct(p: Product, iterations: number): number {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const c = tf.matMul(p.a, p.b, p.transposeA, p.transposeB);
    c.dataSync();
    c.dispose();
  }
  return (performance.now() - t0) / 1000 / iterations;
}

interface ProductRow {
  layer: string;
  batch: number;
  form: string;
  m: number;
  k: number;
  n: number;
  stockGflops: number;
  fastGflops: number;
  ratio: number;
}

function measureProducts(args: Args): ProductRow[] {
  const list = products();
  const samples = list.map(() => ({ stock: [] as number[], fast: [] as number[] }));
  // Calibrate iterations per sample on the slower (stock) kernel, after a warm-up of both.
  const iterations = list.map((p) => {
    use('fast');
    secondsPerProduct(p, 2);
    use('stock');
    secondsPerProduct(p, 2);
    const once = secondsPerProduct(p, 3);
    return Math.max(3, Math.ceil(MIN_MS_PER_SAMPLE / 1000 / once));
  });
  for (let r = 0; r < args.reps; r++) {
    list.forEach((p, i) => {
      for (const variant of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
        use(variant);
        samples[i]![variant].push(secondsPerProduct(p, iterations[i]!));
      }
    });
  }
  const rows = list.map((p, i) => {
    const flop = 2 * p.m * p.k * p.n;
    const stock = flop / median(samples[i]!.stock) / 1e9;
    const fast = flop / median(samples[i]!.fast) / 1e9;
    return {
      layer: p.name,
      batch: p.batch,
      form: p.form,
      m: p.m,
      k: p.k,
      n: p.n,
      stockGflops: stock,
      fastGflops: fast,
      ratio: fast / stock,
    };
  });
  tf.dispose(list.flatMap((p) => [p.a, p.b]));
  return rows;
}

function randomBatch(size: number, features: number, classes: number, seed: number): ClassifierBatch {
  const rng = new SeededRandom(seed, 3);
  const x = new Float32Array(size * features);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const yOneHot = new Float32Array(size * classes);
  for (let i = 0; i < size; i++) yOneHot[i * classes + ((i * 7) % classes)] = 1;
  return { size, x, yOneHot };
}

const adam = { name: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

async function msPerStep(program: ClassifierProgram, batch: ClassifierBatch, steps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await program.step(batch, async (flat) => flat);
  return (performance.now() - t0) / steps;
}

interface StepRow {
  model: string;
  stockMs: number | null;
  fastMs: number;
  ratio: number | null;
  torchMs: number | null;
}

async function measureMlpSteps(args: Args): Promise<StepRow> {
  const model = buildModel({ family: 'mlp', hidden: [256, 128], activation: 'relu' }, [784], 10, 1);
  const program = new ClassifierProgram(model, createOptimizer(adam), 10);
  const batch = randomBatch(64, 784, 10, 2);
  const times: Record<Variant, number[]> = { stock: [], fast: [] };
  for (const variant of VARIANTS) {
    use(variant);
    await msPerStep(program, batch, 3);
  }
  for (let r = 0; r < args.reps; r++) {
    for (const variant of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      use(variant);
      times[variant].push(await msPerStep(program, batch, args.steps));
    }
  }
  const before = tf.memory().numTensors;
  await msPerStep(program, batch, 3);
  if (tf.memory().numTensors !== before) throw new Error('the MLP step leaks tensors');
  program.dispose();
  const stockMs = median(times.stock);
  const fastMs = median(times.fast);
  return { model: 'mlp 784-256-128-10', stockMs, fastMs, ratio: stockMs / fastMs, torchMs: null };
}

/**
 * The same MLP step without ClassifierProgram's flat-gradient round trip (gradients and Adam
 * in one tidy, nothing read back but the loss): what the kernels cost.
 */
async function measureMlpKernelSteps(args: Args): Promise<StepRow> {
  const model = buildModel({ family: 'mlp', hidden: [256, 128], activation: 'relu' }, [784], 10, 1);
  const optimizer = createOptimizer(adam);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const batch = randomBatch(64, 784, 10, 2);
  const x = tf.tensor2d(batch.x, [64, 784]);
  const y = tf.tensor2d(batch.yOneHot, [64, 10]);
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        variables,
      );
      optimizer.applyGradients(grads);
      return value.dataSync()[0];
    });
  const run = (steps: number) => {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    return (performance.now() - t0) / steps;
  };
  const times: Record<Variant, number[]> = { stock: [], fast: [] };
  for (const variant of VARIANTS) {
    use(variant);
    run(3);
  }
  for (let r = 0; r < args.reps; r++) {
    for (const variant of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      use(variant);
      times[variant].push(run(args.steps));
    }
  }
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  const stockMs = median(times.stock);
  const fastMs = median(times.fast);
  return { model: 'mlp, grads+Adam only', stockMs, fastMs, ratio: stockMs / fastMs, torchMs: null };
}

async function measureCnnSteps(args: Args): Promise<StepRow> {
  use('fast');
  const spec = {
    family: 'cnn',
    conv: [
      { filters: 16, kernelSize: 3, strides: 1, padding: 'valid', pool: 2 },
      { filters: 32, kernelSize: 3, strides: 1, padding: 'valid', pool: 2 },
    ],
    dense: [64],
    activation: 'relu',
  } as const;
  const model = buildModel(spec as unknown as Parameters<typeof buildModel>[0], [28, 28, 1], 10, 1);
  const program = new ClassifierProgram(model, createOptimizer(adam), 10);
  const batch = randomBatch(64, 784, 10, 4);
  await msPerStep(program, batch, 2);
  const times: number[] = [];
  for (let r = 0; r < Math.max(3, Math.ceil(args.reps / 3)); r++)
    times.push(await msPerStep(program, batch, 3));
  program.dispose();
  return { model: 'cnn c16-p-c32-p-d64', stockMs: null, fastMs: median(times), ratio: null, torchMs: null };
}

/** PyTorch CPU ms/step (1 thread; OpenBLAS when ../shared/bench/setup.sh unpacked it), or why not. */
function torchReference(): { rows: Map<string, number>; note: string } {
  const rows = new Map<string, number>();
  const python = '/usr/bin/python3';
  if (!existsSync(TORCH_SCRIPT) || !existsSync(python)) return { rows, note: 'reference script not found' };
  if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    return { rows, note: 'PyTorch not installed (run ../shared/bench/setup.sh)' };
  }
  const cache =
    process.env.TRAINYARD_BENCH_CACHE ?? resolve(process.env.HOME ?? '/root', '.cache/trainyard-bench');
  const blas = existsSync(resolve(cache, 'openblas')) ? 'openblas' : 'ref';
  const run = spawnSync(python, [TORCH_SCRIPT, '--threads', '1', '--blas', blas], { encoding: 'utf8' });
  const line = run.stdout?.split('\n').find((l) => l.startsWith('{'));
  if (run.status !== 0 || !line)
    return { rows, note: `torch_train_step.py failed: ${run.stderr?.slice(-200)}` };
  const parsed = JSON.parse(line) as { rows: { model: string; median_ms: number }[] };
  for (const r of parsed.rows) rows.set(r.model, r.median_ms);
  return {
    rows,
    note: `PyTorch 1 thread, BLAS ${blas}${blas === 'ref' ? ' (reference BLAS: ~10x slow dense layers)' : ''}`,
  };
}

const fmt = (v: number | null, digits = 2) => (v === null ? '—' : v.toFixed(digits));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend('wasm');
  if (backend.name !== 'wasm') throw new Error(`wasm backend unavailable (got ${backend.name})`);
  const productRows = measureProducts(args);
  const stepRows = [await measureMlpSteps(args), await measureMlpKernelSteps(args)];
  if (args.cnn) stepRows.push(await measureCnnSteps(args));
  installWasmMatMulFastPath();
  let torchNote = 'skipped (--no-torch)';
  if (args.torch) {
    const torch = torchReference();
    torchNote = torch.note;
    for (const row of stepRows) row.torchMs = torch.rows.get(row.model.slice(0, 3)) ?? null;
  }
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
  if (args.json) {
    console.log(
      JSON.stringify({ machine, tfjs: backend.version, products: productRows, steps: stepRows, torchNote }),
    );
    return;
  }
  console.log(
    `wasm backend, TF.js ${backend.version}, Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel})`,
  );
  console.log(
    `BatchMatMul GFLOP/s, median of ${args.reps} interleaved repetitions (stock kernel vs engine fast path)`,
  );
  console.log('batch  layer     form   m×k×n           stock    fast   fast/stock');
  for (const r of productRows) {
    console.log(
      `${String(r.batch).padStart(5)}  ${r.layer.padEnd(8)}  ${r.form.padEnd(5)}  ${`${r.m}×${r.k}×${r.n}`.padEnd(14)}` +
        `${fmt(r.stockGflops).padStart(7)} ${fmt(r.fastGflops).padStart(7)} ${`${fmt(r.ratio, 1)}x`.padStart(10)}`,
    );
  }
  console.log(`\nTraining step, batch 64, Adam (ms/step, median of repetitions of ${args.steps} steps)`);
  console.log('model                   stock wasm  engine wasm  stock/engine   PyTorch  engine/PyTorch');
  for (const r of stepRows) {
    console.log(
      `${r.model.padEnd(22)}  ${fmt(r.stockMs, 1).padStart(10)}  ${fmt(r.fastMs, 1).padStart(11)}  ` +
        `${(r.ratio === null ? '—' : `${fmt(r.ratio, 1)}x`).padStart(12)}  ${fmt(r.torchMs, 1).padStart(8)}  ` +
        `${(r.torchMs === null ? '—' : `${fmt(r.fastMs / r.torchMs, 1)}x`).padStart(14)}`,
    );
  }
  console.log(`(stock wasm cannot train the CNN: it has no Conv2DBackpropFilter; PyTorch: ${torchNote})`);
}

await main();
