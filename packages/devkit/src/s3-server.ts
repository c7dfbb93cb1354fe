import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';
import { freePort } from './redis-server.js';

/** A running s3rver (an S3-protocol server on local disk) for tests. */
export interface S3ServerHandle {
  readonly endpoint: string;
  readonly port: number;
  readonly dir: string;
  /** Settings for workers (S3_*) that point at this server and bucket. */
  workerEnv(prefix?: string): Record<string, string>;
  /** `<dir>/<bucket>/._S3rver_uploads`: one directory per multipart upload in progress. */
  uploads(bucket: string): string[];
  close(): Promise<void>;
}

export interface S3ServerOptions {
  /** Default: a free port. Pass the old port (and dir) to bring a stopped server back. */
  readonly port?: number;
  readonly bucket?: string;
  /**
   * Give s3rver AbortMultipartUpload as S3 defines it (s3rver 3.7.1 answers 405):
   * DELETE /<bucket>/<key>?uploadId=<id> removes the upload and its parts; an unknown id is 404.
   */
  readonly abortMultipart?: boolean;
}

/** Credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
  type: string;
  body: unknown;
}

/** Starts s3rver on 127.0.0.1 with `bucket` (default `test`) stored under `dir`. */
export async function startS3Server(dir: string, options: S3ServerOptions = {}): Promise<S3ServerHandle> {
  const port = options.port ?? (await freePort());
  const bucket = options.bucket ?? 'test';
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: dir,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const uploadsDir = (b: string): string => server.store.getResourcePath(b, undefined, 'uploads') as string;
  if (options.abortMultipart) {
    (server.middleware as unknown[]).unshift(async (ctx: KoaContext, next: () => Promise<unknown>) => {
      if (ctx.method !== 'DELETE' || typeof ctx.query.uploadId !== 'string') return next();
      const b = ctx.path.split('/')[1]!;
      const id = ctx.query.uploadId;
      const upload = join(uploadsDir(b), id);
      if (!/^[0-9a-f]+$/.test(id) || !existsSync(upload)) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`;
        return;
      }
      await rm(upload, { recursive: true, force: true });
      ctx.status = 204;
    });
  }
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    dir,
    workerEnv: (prefix = '') => ({
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      S3_PREFIX: prefix,
    }),
    uploads: (b) => (existsSync(uploadsDir(b)) ? readdirSync(uploadsDir(b)) : []),
    close: () => server.close(),
  };
}
