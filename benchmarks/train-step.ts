/**
 * Training-step benchmark: ms per step of the MLP 784-256-128-10 and the CNN
 * conv3x3x16-pool-conv3x3x32-pool-dense64-dense10 at batch 64 with Adam, on every tfjs
 * backend this machine can load (each in its own process), and in the same run the same
 * models in PyTorch on the CPU with one thread (../shared/bench/torch_train_step.py, with
 * OpenBLAS) when `python3 -c 'import torch'` works. Prints ours / PyTorch.
 *
 *   npm run bench:train-step            # or: node --import tsx benchmarks/train-step.ts [--json] [--backends wasm,cpu]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '@trainyard/devkit';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    steps: { type: 'string', default: '20' },
  },
});

interface Row {
  model: string;
  error?: string;
  medianMs: number;
  minMs: number;
  steps: number;
  leakedTensors?: number;
}

const results: { backend: string; version?: string; rows: Row[]; note?: string }[] = [];
for (const backend of values.backends.split(',')) {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'benchmarks/train-step-backend.ts', '--backend', backend, '--steps', values.steps],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 },
  );
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    const why = (
      child.stderr.match(/TRAINYARD_ERR_\w+[^\n]*|Error: [^\n]*/)?.[0] ?? `exit ${child.status}`
    ).slice(0, 160);
    results.push({ backend, rows: [], note: `not available: ${why}` });
    continue;
  }
  const parsed = JSON.parse(line) as { backend: { name: string; version: string }; rows: Row[] };
  if (parsed.backend.name !== backend) {
    results.push({ backend, rows: [], note: `not available (fell back to ${parsed.backend.name})` });
    continue;
  }
  results.push({ backend, version: parsed.backend.version, rows: parsed.rows });
}

// PyTorch on the CPU, one thread, OpenBLAS: the reference script of ../shared/bench.
const benchDir = join(REPO_ROOT, '..', 'shared', 'bench');
const cache = process.env.TRAINYARD_BENCH_CACHE ?? join(homedir(), '.cache', 'trainyard-bench');
let torch: { rows: Row[]; torch: string; blas: string } | null = null;
let torchNote = '';
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!existsSync(join(benchDir, 'torch_train_step.py'))) {
  torchNote = `PyTorch reference skipped: ${benchDir}/torch_train_step.py not found`;
} else if (!hasTorch) {
  torchNote =
    "PyTorch reference skipped: python3 -c 'import torch' fails (apt-get install python3-torch, or run ../shared/bench/setup.sh)";
} else {
  if (!existsSync(join(cache, 'openblas')) && process.getuid?.() === 0) {
    spawnSync('bash', [join(benchDir, 'setup.sh')], { stdio: 'ignore', timeout: 300_000 });
  }
  const blas = existsSync(join(cache, 'openblas')) ? 'openblas' : 'ref';
  const out = spawnSync(
    '/usr/bin/python3',
    [join(benchDir, 'torch_train_step.py'), '--threads', '1', '--blas', blas],
    {
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  const line = out.stdout.trim().split('\n').at(-1) ?? '';
  if (out.status === 0 && line.startsWith('{')) {
    const parsed = JSON.parse(line) as {
      torch: string;
      blas: string;
      rows: { model: string; median_ms: number; min_ms: number }[];
    };
    torch = {
      torch: parsed.torch,
      blas: parsed.blas,
      rows: parsed.rows.map((r) => ({ model: r.model, medianMs: r.median_ms, minMs: r.min_ms, steps: 20 })),
    };
    if (blas !== 'openblas')
      torchNote =
        'PyTorch ran with the reference BLAS (OpenBLAS not unpacked): its dense layers are ~10x slower than they should be';
  } else {
    torchNote = `PyTorch reference failed: ${out.stderr.slice(-300)}`;
  }
}

if (values.json) {
  console.log(JSON.stringify({ results, torch, torchNote }, null, 2));
} else {
  console.log('training step, batch 64, Adam 1e-3: median ms per step (min); ours / PyTorch 1 thread');
  const header = ['backend', 'model', 'median ms', 'min ms', 'steps', 'PyTorch ms', 'ours/PyTorch'];
  console.log(header.map((h, i) => (i < 2 ? h.padEnd(11) : h.padStart(13))).join(''));
  for (const r of results) {
    if (r.rows.length === 0) console.log(`${r.backend.padEnd(11)}${r.note}`);
    for (const row of r.rows) {
      if (row.error) {
        console.log(`${r.backend.padEnd(11)}${row.model.padEnd(11)}fails: ${row.error}`);
        continue;
      }
      const ref = torch?.rows.find((t) => t.model === row.model);
      console.log(
        [
          r.backend.padEnd(11),
          row.model.padEnd(11),
          row.medianMs.toFixed(1).padStart(13),
          row.minMs.toFixed(1).padStart(13),
          String(row.steps).padStart(13),
          (ref ? ref.medianMs.toFixed(1) : '-').padStart(13),
          (ref ? (row.medianMs / ref.medianMs).toFixed(2) : '-').padStart(13),
        ].join(''),
      );
    }
  }
  if (torch)
    console.log(`PyTorch ${torch.torch}, blas ${torch.blas}, 1 thread (../shared/bench/torch_train_step.py)`);
  if (torchNote) console.log(torchNote);
}
