import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@trainyard/devkit';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';
import { afterAll, beforeAll } from 'vitest';
import { describeObjectStoreConformance } from './object-store.conformance.js';
import { S3ObjectStore } from './s3-object-store.js';

/** The S3 driver against a real S3-protocol server (s3rver) started by the test. */
let server: { close(): Promise<void> } | null = null;
let endpoint = '';
const dir = mkdtempSync(join(tmpdir(), 'trainyard-s3rver-'));

beforeAll(async () => {
  const port = await freePort();
  server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: dir,
    silent: true,
    configureBuckets: [{ name: 'test' }],
  });
  await (server as unknown as { run(): Promise<unknown> }).run();
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
describeObjectStoreConformance(
  's3 (s3rver)',
  async () =>
    new S3ObjectStore({
      bucket: 'test',
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      prefix: `run-${process.pid}-${n++}/`,
    }),
);
