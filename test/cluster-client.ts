import type { JobRecord } from '@trainyard/core';
import { decodeNamedArrays } from '@trainyard/models';
import { FsObjectStore, readCheckpoint } from '@trainyard/storage';
import { expect } from 'vitest';

/** Settings that make a local cluster notice lost workers within seconds (fault tests). */
export const FAST_FAILURE_ENV = Object.freeze({
  TRAINYARD_BACKEND: 'wasm',
  HEARTBEAT_MS: '500',
  HEARTBEAT_TTL_MS: '2000',
  SCHEDULER_TICK_MS: '250',
});

/** A client of the jobs API, as the tests use it: submissions must be accepted (201). */
export function jobsClient(apiUrl: string) {
  return {
    async submit(body: unknown): Promise<JobRecord> {
      const res = await fetch(`${apiUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return (await res.json()) as JobRecord;
    },
    async get(id: string): Promise<JobRecord> {
      return (await (await fetch(`${apiUrl}/v1/jobs/${id}`)).json()) as JobRecord;
    },
  };
}

/** The weights in a job's newest checkpoint (filesystem store). */
export async function lastCheckpointWeights(storeDir: string, job: JobRecord): Promise<Float32Array> {
  const { files } = await readCheckpoint(new FsObjectStore(storeDir), job.checkpoints.at(-1)!.manifestKey);
  return decodeNamedArrays(files['weights.bin']!).data;
}

/** ‖a − b‖ / ‖a‖ */
export function relativeDistance(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += a[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}
