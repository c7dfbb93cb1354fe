import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Errors, TrainyardError } from '@trainyard/core';
import { type ObjectStore, type PutOptions, validateKey, validatePrefix } from './object-store.js';

/**
 * Local filesystem driver: key `a/b/c` is file `<root>/a/b/c`. A put writes a temporary
 * file beside the target and renames it into place (atomic on one filesystem).
 */
export class FsObjectStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `fs:${root}`;
  }

  private path(key: string): string {
    return join(this.root, ...validateKey(key).split('/'));
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const target = this.path(key);
    options.signal?.throwIfAborted();
    const dir = target.slice(0, target.lastIndexOf(sep));
    await mkdir(dir, { recursive: true });
    const tmp = `${target}.tmp-${randomUUID()}`;
    try {
      await writeFile(tmp, data, { flush: true });
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TrainyardError(Errors.STORAGE_NOT_FOUND, `no object ${key} in ${this.location}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    validatePrefix(prefix);
    const base = prefix === '' ? this.root : join(this.root, ...prefix.slice(0, -1).split('/'));
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && !entry.name.includes('.tmp-'))
          out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(base);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
