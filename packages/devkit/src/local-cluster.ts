import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeys, createRedis } from '@trainyard/core';
import { freePort, type RedisServerHandle, startRedisServer } from './redis-server.js';

/** The repository root (this file lives in packages/devkit/src). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly metricsUrl: string;
}

export interface LocalCluster {
  readonly apiUrl: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly storeDir: string;
  readonly services: readonly ServiceProcess[];
  /**
   * Starts a service again (after it was killed or stopped) with the same name, environment
   * and ports; its log is appended to. Resolves once the new process has spawned.
   */
  respawn(name: string): Promise<ServiceProcess>;
  /** Stops every process it started (SIGTERM, then SIGKILL after the grace period) and its Redis. */
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  readonly workers: number;
  /** Use this Redis instead of starting a private one. */
  readonly redisUrl?: string;
  readonly prefix?: string;
  /** Where checkpoints go; default `<repo>/.data/objects`. */
  readonly storeDir?: string;
  /** Where each process's JSON log goes; default `<repo>/.data/logs`. */
  readonly logDir?: string;
  readonly env?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

/** Runs a service's src/main.ts as its own OS process, as a pod would. */
function spawnService(
  name: string,
  entry: string,
  env: Record<string, string>,
  logDir: string,
  append = false,
): ServiceProcess & { ready: Promise<void> } {
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: append ? 'a' : 'w' });
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const ready = new Promise<void>((resolveReady, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolveReady());
  });
  return {
    name,
    child,
    logFile,
    metricsUrl: `http://127.0.0.1:${env.METRICS_PORT ?? env.API_PORT}/metrics`,
    ready,
  };
}

export function tailLog(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitFor(
  what: string,
  deadline: number,
  check: () => Promise<boolean>,
  services: ServiceProcess[],
): Promise<void> {
  for (;;) {
    const dead = services.find((s) => s.child.exitCode !== null);
    if (dead)
      throw new Error(
        `${dead.name} exited with code ${dead.child.exitCode} while waiting for ${what}:\n${tailLog(dead.logFile)}`,
      );
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a whole Trainyard on this machine: Redis (private, unless given), the api, the
 * scheduler and N workers, each a separate process; resolves once the api is ready and
 * every worker has registered.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const logDir = options.logDir ?? join(REPO_ROOT, '.data', 'logs');
  const storeDir = options.storeDir ?? join(REPO_ROOT, '.data', 'objects');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(storeDir, { recursive: true });
  let redisServer: RedisServerHandle | null = null;
  const services: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(
      services.map(
        (s) =>
          new Promise<void>((done) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return done();
            const force = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
            s.child.once('exit', () => {
              clearTimeout(force);
              done();
            });
            s.child.kill('SIGTERM');
          }),
      ),
    );
    await redisServer?.stop();
  };
  try {
    redisServer = options.redisUrl ? null : await startRedisServer();
    const redisUrl = options.redisUrl ?? redisServer!.url;
    const prefix = options.prefix ?? 'trainyard';
    const common = {
      REDIS_URL: redisUrl,
      TRAINYARD_PREFIX: prefix,
      TRAINYARD_STORE_DIR: storeDir,
      ...options.env,
    };
    const apiPort = await freePort();
    const starts: Promise<void>[] = [];
    const recipes = new Map<string, { entry: string; env: Record<string, string> }>();
    const add = (name: string, entry: string, env: Record<string, string>) => {
      recipes.set(name, { entry, env: { ...common, ...env } });
      const s = spawnService(name, entry, { ...common, ...env }, logDir);
      services.push(s);
      starts.push(s.ready);
    };
    const respawn = async (name: string): Promise<ServiceProcess> => {
      const recipe = recipes.get(name);
      const index = services.findIndex((s) => s.name === name);
      if (!recipe || index < 0) throw new Error(`no service named ${name}`);
      const old = services[index]!;
      if (old.child.exitCode === null && old.child.signalCode === null) {
        throw new Error(`${name} (pid ${old.child.pid}) is still running`);
      }
      const s = spawnService(name, recipe.entry, recipe.env, logDir, true);
      await s.ready;
      services[index] = s;
      return s;
    };
    add('api', 'services/api/src/main.ts', { API_PORT: String(apiPort), API_HOST: '127.0.0.1' });
    add('scheduler', 'services/scheduler/src/main.ts', { METRICS_PORT: String(await freePort()) });
    for (let i = 0; i < options.workers; i++) {
      add(`worker-${i}`, 'services/worker/src/main.ts', {
        WORKER_ID: `local-worker-${i}`,
        METRICS_PORT: String(await freePort()),
      });
    }
    await Promise.all(starts);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    await waitFor(
      'the api to be ready',
      deadline,
      async () => (await fetch(`${apiUrl}/readyz`)).ok,
      services,
    );
    const redis = createRedis(redisUrl, 'devkit-probe');
    try {
      const keys = createKeys(prefix);
      await waitFor(
        `${options.workers} workers to register`,
        deadline,
        async () => {
          const ids = await redis.hkeys(keys.workers());
          return options.workers === ids.filter((id) => id.startsWith('local-worker-')).length;
        },
        services,
      );
    } finally {
      redis.disconnect();
    }
    return { apiUrl, redisUrl, prefix, storeDir, services, respawn, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
