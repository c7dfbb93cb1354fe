import { spawnSync } from 'node:child_process';

/** A CUDA device this process may use. */
export interface VisibleGpu {
  readonly index: number;
  readonly name: string;
}

/**
 * The GPUs `nvidia-smi --query-gpu=index,name --format=csv,noheader` lists, narrowed and
 * ordered by CUDA_VISIBLE_DEVICES the way CUDA does (numeric indices; '' or '-1' hides all).
 */
export function parseVisibleGpus(nvidiaSmiCsv: string, cudaVisibleDevices: string | undefined): VisibleGpu[] {
  const all: VisibleGpu[] = [];
  for (const line of nvidiaSmiCsv.split('\n')) {
    const m = /^\s*(\d+)\s*,\s*(.+?)\s*$/.exec(line);
    if (m) all.push({ index: Number(m[1]), name: m[2]! });
  }
  if (cudaVisibleDevices === undefined) return all;
  const wanted = cudaVisibleDevices.trim();
  if (wanted === '' || wanted === '-1') return [];
  const out: VisibleGpu[] = [];
  for (const part of wanted.split(',')) {
    const index = Number(part.trim());
    // CUDA stops at the first entry it cannot use (e.g. a UUID we cannot map here).
    const gpu = Number.isInteger(index) ? all.find((g) => g.index === index) : undefined;
    if (!gpu) break;
    out.push(gpu);
  }
  return out;
}

/** GPUs visible to this process; [] when there is no nvidia-smi or no device. */
export function visibleGpus(env: NodeJS.ProcessEnv = process.env): VisibleGpu[] {
  const smi = spawnSync('nvidia-smi', ['--query-gpu=index,name', '--format=csv,noheader'], {
    env,
    encoding: 'utf8',
    timeout: 5000,
  });
  if (smi.status !== 0 || typeof smi.stdout !== 'string') return [];
  return parseVisibleGpus(smi.stdout, env.CUDA_VISIBLE_DEVICES);
}
