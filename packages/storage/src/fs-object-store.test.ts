import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from './fs-object-store.js';
import { describeObjectStoreConformance } from './object-store.conformance.js';

describeObjectStoreConformance(
  'fs',
  async () => new FsObjectStore(mkdtempSync(join(tmpdir(), 'trainyard-store-'))),
);
