import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type S3ServerHandle, startS3Server } from '@trainyard/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { describeObjectStoreConformance } from './object-store.conformance.js';
import { S3ObjectStore, type S3StoreOptions } from './s3-object-store.js';

/**
 * The S3 driver against a real S3-protocol server (s3rver 3.7.1) started by the test:
 * - the shared conformance suite passes unchanged, once as configured by default and once
 *   with every non-empty put going through a multipart upload;
 * - a 21 MiB object round-trips byte-exact through multipart (the commands the client sent
 *   are counted by a client middleware, with at most partConcurrency parts in flight);
 * - a failure injected at part 2 aborts the upload: the original error is thrown, nothing is
 *   left at the key, and no upload is left in s3rver's data directory. s3rver 3.7.1 has no
 *   AbortMultipartUpload (it answers 405) and no ListMultipartUploads (501): one test shows
 *   the failed abort is reported, not swallowed; another gives s3rver the S3 abort semantics
 *   (remove the upload and its parts, or 404 NoSuchUpload) and checks the upload is gone;
 * - a refused, hanging or 5xx-answering store fails in seconds with
 *   TRAINYARD_ERR_STORE_UNAVAILABLE naming the object and the cause;
 * - a checkpoint written while the store is down fails that way and leaves the previous one
 *   whole: it verifies once the store is back.
 */
const MiB = 1024 * 1024;

function s3Store(endpoint: string, options: Partial<S3StoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    bucket: 'test',
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    ...options,
  });
}

interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly output?: Record<string, unknown>;
  readonly error?: unknown;
}

/** Records every command the store's client sends (and its outcome); can fail UploadPart N. */
function instrument(store: S3ObjectStore, failPart?: number) {
  const sent: Sent[] = [];
  let inFlight = 0;
  let maxPartsInFlight = 0;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '?';
      const input = args.input as Record<string, unknown>;
      const isPart = command === 'UploadPartCommand';
      if (isPart && input.PartNumber === failPart) {
        const err = new Error(`injected failure at part ${failPart}`);
        sent.push({ command, input, error: err });
        throw err;
      }
      if (isPart) maxPartsInFlight = Math.max(maxPartsInFlight, ++inFlight);
      try {
        const out = await next(args);
        sent.push({ command, input, output: out.output as unknown as Record<string, unknown> });
        return out;
      } catch (error) {
        sent.push({ command, input, error });
        throw error;
      } finally {
        if (isPart) inFlight--;
      }
    },
    { step: 'initialize', name: 'testInstrument' },
  );
  return {
    sent,
    maxPartsInFlight: () => maxPartsInFlight,
    count: (command: string) => sent.filter((s) => s.command === command).length,
  };
}

const root = mkdtempSync(join(tmpdir(), 'trainyard-s3rver-'));
let main: S3ServerHandle;

beforeAll(async () => {
  main = await startS3Server(join(root, 'main'), { abortMultipart: true });
});

afterAll(async () => {
  await main?.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
describeObjectStoreConformance('s3 (s3rver)', async () =>
  s3Store(main.endpoint, { prefix: `run-${process.pid}-${n++}/` }),
);
describeObjectStoreConformance('s3 (s3rver), every put multipart', async () =>
  s3Store(main.endpoint, { prefix: `mp-${process.pid}-${n++}/`, multipartThresholdBytes: 1 }),
);

describe('S3 multipart uploads (s3rver)', () => {
  it('round-trips a 21 MiB object byte-exact in 5 MiB parts, at most 4 in flight', async () => {
    const store = s3Store(main.endpoint, { prefix: 'big/', partSizeBytes: 5 * MiB });
    const probe = instrument(store);
    const data = randomBytes(21 * MiB + 123);
    try {
      await store.put('weights.bin', data);
      expect(probe.count('PutObjectCommand')).toBe(0);
      expect(probe.count('CreateMultipartUploadCommand')).toBe(1);
      expect(probe.count('UploadPartCommand')).toBe(5);
      expect(probe.count('CompleteMultipartUploadCommand')).toBe(1);
      expect(probe.count('AbortMultipartUploadCommand')).toBe(0);
      expect(probe.maxPartsInFlight()).toBeGreaterThan(1);
      expect(probe.maxPartsInFlight()).toBeLessThanOrEqual(4);
      const back = await store.get('weights.bin');
      expect(back.byteLength).toBe(data.byteLength);
      expect(Buffer.compare(back, data)).toBe(0);
      expect(main.uploads('test')).toEqual([]);
      // Below the threshold (16 MiB by default) a put is one PutObject.
      await store.put('small.bin', data.subarray(0, 16 * MiB - 1));
      expect(probe.count('PutObjectCommand')).toBe(1);
      expect(probe.count('CreateMultipartUploadCommand')).toBe(1);
    } finally {
      store.close();
    }
  });

  it('refuses parts smaller than S3 allows', () => {
    let err: unknown = null;
    try {
      s3Store(main.endpoint, { partSizeBytes: 5 * MiB - 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'TRAINYARD_ERR_CONFIG_INVALID',
      message: expect.stringMatching(/partSizeBytes must be an integer from 5242880 /),
    });
  });

  it('aborts the upload when part 2 fails: the first error is thrown, no object, no upload left', async () => {
    const store = s3Store(main.endpoint, { prefix: 'fail/', partSizeBytes: 5 * MiB });
    const probe = instrument(store, 2);
    try {
      const err = await store.put('weights.bin', randomBytes(21 * MiB)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        message: 'PUT s3://test/fail/weights.bin failed: injected failure at part 2',
      });
      expect((err as Error).cause).toBe(probe.sent.find((s) => s.input.PartNumber === 2)!.error);
      const created = probe.sent.find((s) => s.command === 'CreateMultipartUploadCommand')!;
      expect(created.output?.UploadId).toEqual(expect.any(String));
      const aborts = probe.sent.filter((s) => s.command === 'AbortMultipartUploadCommand');
      expect(aborts).toHaveLength(1);
      expect(aborts[0]!.error).toBeUndefined();
      expect(aborts[0]!.input).toEqual({
        Bucket: 'test',
        Key: 'fail/weights.bin',
        UploadId: created.output!.UploadId,
      });
      expect(probe.count('CompleteMultipartUploadCommand')).toBe(0);
      expect(await store.exists('weights.bin')).toBe(false);
      expect(main.uploads('test')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("stops and aborts the upload when the caller's AbortSignal fires", async () => {
    const store = s3Store(main.endpoint, { prefix: 'cancel/', partSizeBytes: 5 * MiB });
    const probe = instrument(store);
    const controller = new AbortController();
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') controller.abort(new Error('job cancelled'));
        return next(args);
      },
      { step: 'initialize', name: 'testCancel' },
    );
    try {
      await expect(
        store.put('weights.bin', randomBytes(21 * MiB), { signal: controller.signal }),
      ).rejects.toThrow('job cancelled');
      expect(probe.count('CompleteMultipartUploadCommand')).toBe(0);
      const aborts = probe.sent.filter((s) => s.command === 'AbortMultipartUploadCommand');
      expect(aborts).toHaveLength(1);
      expect(aborts[0]!.error).toBeUndefined();
      expect(await store.exists('weights.bin')).toBe(false);
      expect(main.uploads('test')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('reports an abort that fails too (plain s3rver 3.7.1 answers AbortMultipartUpload with 405)', async () => {
    const plain = await startS3Server(join(root, 'plain'));
    const store = s3Store(plain.endpoint, { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB });
    const probe = instrument(store, 2);
    try {
      const err = (await store
        .put('weights.bin', randomBytes(11 * MiB))
        .catch((e: unknown) => e)) as Error & {
        details: { uploadId: string; abortError: string };
      };
      expect(err).toMatchObject({ code: 'TRAINYARD_ERR_STORE_UNAVAILABLE' });
      expect(err.message).toMatch(
        /^PUT s3:\/\/test\/weights\.bin failed: injected failure at part 2; aborting multipart upload [0-9a-f]+ also failed: HTTP 405 MethodNotAllowed/,
      );
      expect(err.cause).toBe(probe.sent.find((s) => s.input.PartNumber === 2)!.error);
      expect(err.details.abortError).toMatch(/HTTP 405 MethodNotAllowed/);
      expect(probe.count('AbortMultipartUploadCommand')).toBe(1);
      expect(await store.exists('weights.bin')).toBe(false);
      // This server keeps the upload (it cannot abort); the id in the error says which.
      expect(plain.uploads('test')).toEqual([err.details.uploadId]);
    } finally {
      store.close();
      await plain.close();
    }
  });
});

describe('S3 store failures are TRAINYARD_ERR_STORE_UNAVAILABLE within seconds', () => {
  it('a refused connection, after the 3 attempts', async () => {
    const port = await freePort();
    const store = s3Store(`http://127.0.0.1:${port}`, { prefix: 'p/' });
    const t0 = Date.now();
    try {
      await expect(store.put('a/k.bin', new Uint8Array([1]))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        status: 503,
        retryable: true,
        message: `PUT s3://test/p/a/k.bin failed: connect ECONNREFUSED 127.0.0.1:${port} (after 3 attempts)`,
      });
      await expect(store.get('a/k.bin')).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        message: expect.stringMatching(/^GET s3:\/\/test\/p\/a\/k\.bin failed: connect ECONNREFUSED/),
      });
      await expect(store.list('a/')).rejects.toMatchObject({ code: 'TRAINYARD_ERR_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      store.close();
    }
  });

  it('a store that accepts connections but never answers, after requestTimeoutMs per attempt', async () => {
    const sockets = new Set<Socket>();
    const server = createTcpServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const store = s3Store(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300, maxAttempts: 2 });
    const t0 = Date.now();
    try {
      await expect(store.put('k.bin', new Uint8Array([1]))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        message: expect.stringMatching(
          /^PUT s3:\/\/test\/k\.bin failed: .*exceeded the configured 300 ms requestTimeout.* \(after 2 attempts\)$/,
        ),
      });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(sockets.size).toBeGreaterThanOrEqual(2);
    } finally {
      store.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('a download that stalls midway, after requestTimeoutMs of silence (not a hang)', async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100' });
      res.write(Buffer.alloc(10)); // 10 of 100 bytes, then nothing
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const store = s3Store(`http://127.0.0.1:${port}`, { requestTimeoutMs: 500, maxAttempts: 1 });
    const t0 = Date.now();
    try {
      await expect(store.get('k.bin')).rejects.toMatchObject({ code: 'TRAINYARD_ERR_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      store.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('a refusal no retry can change (bad credentials, no such bucket) is STORE_REJECTED, not retryable', async () => {
    const badKey = s3Store(main.endpoint, { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' });
    const noBucket = s3Store(main.endpoint, { bucket: 'no-such-bucket' });
    try {
      const refused = await badKey.put('k.bin', new Uint8Array([1])).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'TRAINYARD_ERR_STORE_REJECTED', retryable: false });
      expect((refused as Error).message).toMatch(/^PUT s3:\/\/test\/k\.bin failed: HTTP 403 /);
      await expect(noBucket.put('k.bin', new Uint8Array([1]))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_REJECTED',
        message: expect.stringMatching(/NoSuchBucket/),
      });
      // A missing bucket is not a missing object: reads say so too.
      await expect(noBucket.get('k.bin')).rejects.toMatchObject({ code: 'TRAINYARD_ERR_STORE_REJECTED' });
    } finally {
      badKey.close();
      noBucket.close();
    }
  });

  it('a store answering 503, after the 3 attempts', async () => {
    let requests = 0;
    const server = createHttpServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code><Message>Reduce your request rate.</Message></Error>',
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const store = s3Store(`http://127.0.0.1:${port}`);
    const t0 = Date.now();
    try {
      await expect(store.put('k.bin', new Uint8Array([1]))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        message:
          'PUT s3://test/k.bin failed: HTTP 503 ServiceUnavailable: Reduce your request rate. (after 3 attempts)',
      });
      expect(requests).toBe(3);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      store.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('a checkpoint written while the store is down fails clearly and keeps the previous one whole', async () => {
    const dir = join(root, 'outage');
    let server = await startS3Server(dir, { bucket: 'ckpt' });
    const store = new S3ObjectStore({
      bucket: 'ckpt',
      region: 'us-east-1',
      endpoint: server.endpoint,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      prefix: 'trainyard/',
    });
    const input = (step: number) => ({
      jobId: 'job-o',
      generation: 1,
      step,
      epoch: 0,
      files: { 'weights.bin': randomBytes(1000), 'state.json': Buffer.from(`{"step":${step}}`) },
    });
    try {
      const good = await writeCheckpoint(store, input(10));
      await server.close();
      const t0 = Date.now();
      await expect(writeCheckpoint(store, input(20))).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
        message:
          'checkpoint of job job-o step 20 could not be written: PUT ' +
          's3://ckpt/trainyard/checkpoints/job-o/0000000020/weights.bin failed: ' +
          `connect ECONNREFUSED 127.0.0.1:${server.port} (after 3 attempts)`,
      });
      expect(Date.now() - t0).toBeLessThan(5_000);
      // While it is down, reading is "unavailable", not "corrupt".
      await expect(readCheckpoint(store, good.manifestKey)).rejects.toMatchObject({
        code: 'TRAINYARD_ERR_STORE_UNAVAILABLE',
      });
      server = await startS3Server(dir, { bucket: 'ckpt', port: server.port });
      const { manifest } = await readCheckpoint(store, good.manifestKey);
      expect(manifest.step).toBe(10);
      expect(await listCheckpoints(store, 'job-o')).toEqual([good.manifestKey]);
      expect((await store.get('checkpoints/job-o/latest')).toString()).toBe(good.manifestKey);
    } finally {
      store.close();
      await server.close().catch(() => {});
    }
  });
});
