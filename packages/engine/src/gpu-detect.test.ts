import { describe, expect, it } from 'vitest';
import { parseVisibleGpus, visibleGpus } from './gpu-detect.js';

const smi = '0, NVIDIA H200\n1, NVIDIA H200\n2, NVIDIA A100-SXM4-80GB\n';

describe('visible GPUs', () => {
  it('lists every GPU when CUDA_VISIBLE_DEVICES is unset', () => {
    expect(parseVisibleGpus(smi, undefined).map((g) => g.index)).toEqual([0, 1, 2]);
  });

  it('narrows and orders by CUDA_VISIBLE_DEVICES, one GPU per worker process', () => {
    expect(parseVisibleGpus(smi, '2')).toEqual([{ index: 2, name: 'NVIDIA A100-SXM4-80GB' }]);
    expect(parseVisibleGpus(smi, '1,0').map((g) => g.index)).toEqual([1, 0]);
  });

  it('hides every GPU for an empty value or -1, and stops at an unknown entry as CUDA does', () => {
    expect(parseVisibleGpus(smi, '')).toEqual([]);
    expect(parseVisibleGpus(smi, '-1')).toEqual([]);
    expect(parseVisibleGpus(smi, '0,7,1').map((g) => g.index)).toEqual([0]);
  });

  it('finds none on a machine without nvidia-smi (this one has no GPU)', () => {
    expect(visibleGpus({ PATH: '/nonexistent' })).toEqual([]);
  });
});
