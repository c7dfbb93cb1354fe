import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteCheckpoint, listCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { FsObjectStore } from './fs-object-store.js';

function freshStore(): { root: string; store: FsObjectStore } {
  const root = mkdtempSync(join(tmpdir(), 'trainyard-ckpt-'));
  return { root, store: new FsObjectStore(root) };
}

describe('checkpoints', () => {
  it('writes files, then a manifest that verifies, then the latest pointer', async () => {
    const { store } = freshStore();
    const written = await writeCheckpoint(store, {
      jobId: 'job-1',
      generation: 1,
      step: 100,
      epoch: 0,
      files: { 'weights.bin': new Uint8Array([1, 2, 3]), 'state.json': Buffer.from('{"step":100}') },
      meta: { datasetVersion: 'v' },
    });
    expect(written.manifestKey).toBe('checkpoints/job-1/0000000100/manifest.json');
    const { manifest, files } = await readCheckpoint(store, written.manifestKey);
    expect(manifest.files.map((f) => f.name)).toEqual(['weights.bin', 'state.json']);
    expect(Array.from(files['weights.bin']!)).toEqual([1, 2, 3]);
    expect((await store.get('checkpoints/job-1/latest')).toString()).toBe(written.manifestKey);
    expect(await listCheckpoints(store, 'job-1')).toEqual([written.manifestKey]);
  });

  it('refuses a checkpoint whose file no longer matches its manifest', async () => {
    const { root, store } = freshStore();
    const written = await writeCheckpoint(store, {
      jobId: 'job-2',
      generation: 1,
      step: 5,
      epoch: 0,
      files: { 'weights.bin': new Uint8Array([1, 2, 3, 4]) },
    });
    writeFileSync(join(root, 'checkpoints/job-2/0000000005/weights.bin'), Buffer.from([1, 2, 3, 5]));
    await expect(readCheckpoint(store, written.manifestKey)).rejects.toMatchObject({
      code: 'TRAINYARD_ERR_CHECKPOINT_CORRUPT',
      message: expect.stringMatching(/weights\.bin sha256/),
    });
    writeFileSync(join(root, 'checkpoints/job-2/0000000005/weights.bin'), Buffer.from([1]));
    await expect(readCheckpoint(store, written.manifestKey)).rejects.toThrow(/has 1 bytes, manifest says 4/);
  });

  it('does not list a checkpoint whose manifest was never written', async () => {
    const { store } = freshStore();
    await store.put('checkpoints/job-3/0000000010/weights.bin', new Uint8Array([1]));
    expect(await listCheckpoints(store, 'job-3')).toEqual([]);
  });

  it('deletes a checkpoint manifest first, then its files, and tolerates one already gone', async () => {
    const { store } = freshStore();
    const w = await writeCheckpoint(store, {
      jobId: 'job-4',
      generation: 1,
      step: 1,
      epoch: 0,
      files: { 'a.bin': new Uint8Array([1]) },
    });
    await deleteCheckpoint(store, w.manifestKey);
    expect(await listCheckpoints(store, 'job-4')).toEqual([]);
    expect(await store.list('checkpoints/job-4/0000000001/')).toEqual([]);
    await deleteCheckpoint(store, w.manifestKey);
  });
});
