import { describe, expect, it } from 'vitest';
import type { ObjectStore } from './object-store.js';

/** The shared suite every ObjectStore driver passes (fs now; S3 with a later issue). */
export function describeObjectStoreConformance(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    it('puts, gets, lists and deletes objects byte for byte', async () => {
      const store = await makeStore();
      const data = new Uint8Array([0, 1, 2, 255, 254]);
      await store.put('a/b/one.bin', data);
      await store.put('a/two.bin', new Uint8Array(0));
      await store.put('c/three.bin', new Uint8Array([7]));
      expect(Buffer.compare(await store.get('a/b/one.bin'), Buffer.from(data))).toBe(0);
      expect((await store.get('a/two.bin')).byteLength).toBe(0);
      expect(await store.list('a/')).toEqual(['a/b/one.bin', 'a/two.bin']);
      expect(await store.exists('a/two.bin')).toBe(true);
      await store.delete('a/two.bin');
      await store.delete('a/two.bin');
      expect(await store.exists('a/two.bin')).toBe(false);
      expect(await store.list('a/')).toEqual(['a/b/one.bin']);
    });

    it('overwrites atomically and reports a missing key with STORAGE_NOT_FOUND', async () => {
      const store = await makeStore();
      await store.put('k', Buffer.from('first'));
      await store.put('k', Buffer.from('second'));
      expect((await store.get('k')).toString()).toBe('second');
      await expect(store.get('missing/key')).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORAGE_NOT_FOUND',
      });
    });

    it.each(['../escape', '/abs', 'a//b', 'a/../b', '.hidden', 'a/./b', '', 'sp ace'])(
      'refuses the key %j',
      async (key) => {
        const store = await makeStore();
        await expect(store.put(key, new Uint8Array([1]))).rejects.toMatchObject({
          code: 'TRAINYARD_ERR_STORAGE_KEY_INVALID',
        });
      },
    );
  });
}
