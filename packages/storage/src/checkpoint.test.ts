import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteCheckpoint, listCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { FsObjectStore } from './fs-object-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The checkpoint layout on the fs driver: write order (files, manifest, pointer), manifest
 * verification, deletion; and that a store failing at any point of a write surfaces as
 * TRAINYARD_ERR_STORE_UNAVAILABLE naming job, step, object and cause while the previous
 * checkpoint stays whole (a store failure on read is "unavailable", never "corrupt").
 */

/** An fs store whose put number `failAt` (1-based) and whose gets after `failGets` fail like a lost network. */
class FlakyStore implements ObjectStore {
  puts: string[] = [];
  failAt = 0;
  failGets = false;
  constructor(private readonly inner: FsObjectStore) {}
  get location() {
    return this.inner.location;
  }
  async put(key: string, data: Uint8Array): Promise<void> {
    this.puts.push(key);
    if (this.puts.length === this.failAt) {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:9000'), { code: 'ECONNREFUSED' });
    }
    await this.inner.put(key, data);
  }
  async get(key: string): Promise<Buffer> {
    if (this.failGets) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    return this.inner.get(key);
  }
  exists(key: string) {
    return this.inner.exists(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
}

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

  it('keeps a checkpoint whose manifest cannot be read (a store failure), so its files are not orphaned', async () => {
    const { store } = freshStore();
    const w = await writeCheckpoint(store, {
      jobId: 'job-5',
      generation: 1,
      step: 1,
      epoch: 0,
      files: { 'a.bin': new Uint8Array([1]) },
    });
    const failing: typeof store = Object.assign(Object.create(store), {
      get: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
      },
    });
    await expect(deleteCheckpoint(failing, w.manifestKey)).rejects.toMatchObject({
      code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
    });
    expect((await readCheckpoint(store, w.manifestKey)).manifest.step).toBe(1);
  });

  it.each([
    [1, 'weights.bin'],
    [2, 'state.json'],
    [3, 'manifest.json'],
    [4, 'latest'],
  ])(
    'a store failure at put %i (%s) is STORE_UNAVAILABLE and keeps the previous checkpoint',
    async (failAt, name) => {
      const { root } = freshStore();
      const store = new FlakyStore(new FsObjectStore(root));
      const input = (step: number) => ({
        jobId: 'job-5',
        generation: 1,
        step,
        epoch: 0,
        files: { 'weights.bin': new Uint8Array([step, 1]), 'state.json': Buffer.from(`{"step":${step}}`) },
      });
      const good = await writeCheckpoint(store, input(10));
      store.puts = [];
      store.failAt = failAt;
      const key = name === 'latest' ? 'checkpoints/job-5/latest' : `checkpoints/job-5/0000000020/${name}`;
      await expect(writeCheckpoint(store, input(20))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        status: 503,
        retryable: true,
        message: `checkpoint of job job-5 step 20 could not be written: PUT fs:${root}/${key} failed: connect ECONNREFUSED 10.0.0.9:9000`,
        details: { jobId: 'job-5', step: 20, store: `fs:${root}`, key },
      });
      // Files, then the manifest, then the pointer; nothing after the failure.
      expect(store.puts).toEqual(
        [
          'checkpoints/job-5/0000000020/weights.bin',
          'checkpoints/job-5/0000000020/state.json',
          'checkpoints/job-5/0000000020/manifest.json',
          'checkpoints/job-5/latest',
        ].slice(0, failAt),
      );
      const { manifest, files } = await readCheckpoint(store, good.manifestKey);
      expect(manifest.step).toBe(10);
      expect(Array.from(files['weights.bin']!)).toEqual([10, 1]);
      expect((await store.get('checkpoints/job-5/latest')).toString()).toBe(good.manifestKey);
      // A checkpoint whose manifest was not written does not exist.
      expect(await listCheckpoints(store, 'job-5')).toEqual(
        failAt < 4 ? [good.manifestKey] : [good.manifestKey, 'checkpoints/job-5/0000000020/manifest.json'],
      );
    },
  );

  it('a write stopped by its signal rejects with the reason and writes no manifest', async () => {
    const { store } = freshStore();
    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    await expect(
      writeCheckpoint(store, {
        jobId: 'job-7',
        generation: 1,
        step: 1,
        epoch: 0,
        files: { 'a.bin': new Uint8Array([1]) },
        signal: controller.signal,
      }),
    ).rejects.toThrow('job cancelled');
    expect(await store.list('checkpoints/job-7/')).toEqual([]);
  });

  it('reading while the store fails is STORE_UNAVAILABLE, not CHECKPOINT_CORRUPT', async () => {
    const { root } = freshStore();
    const store = new FlakyStore(new FsObjectStore(root));
    const w = await writeCheckpoint(store, {
      jobId: 'job-6',
      generation: 1,
      step: 3,
      epoch: 0,
      files: { 'a.bin': new Uint8Array([1]) },
    });
    store.failGets = true;
    await expect(readCheckpoint(store, w.manifestKey)).rejects.toMatchObject({
      code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
      message: `GET fs:${root}/${w.manifestKey} failed: read ECONNRESET`,
    });
    store.failGets = false;
    expect((await readCheckpoint(store, w.manifestKey)).manifest.step).toBe(3);
  });
});
