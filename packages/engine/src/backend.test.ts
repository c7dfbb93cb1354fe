import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** A backend is chosen once per process, so each case runs in a process of its own. */
function choose(preference: string): Record<string, unknown> {
  const fixture = fileURLToPath(new URL('./testing/print-backend.ts', import.meta.url));
  const out = spawnSync(process.execPath, ['--import', 'tsx', fixture, preference], {
    encoding: 'utf8',
    env: { ...process.env, CUDA_VISIBLE_DEVICES: '' },
  });
  return JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

describe('initBackend', () => {
  it('auto picks wasm where the native bindings are not installed (as on this machine)', () => {
    expect(choose('auto')).toEqual({ name: 'wasm', version: '4.22.0', gpu: null });
  });

  it('gives exactly the backend asked for', () => {
    expect(choose('cpu')).toEqual({ name: 'cpu', version: '4.22.0', gpu: null });
    expect(choose('wasm')).toMatchObject({ name: 'wasm' });
  });

  it('refuses tensorflow with a clear error when @tensorflow/tfjs-node is not installed', () => {
    expect(choose('tensorflow')).toEqual({
      error: 'TRAINYARD_ERR_BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/install @tensorflow\/tfjs-node/),
    });
  });
});
