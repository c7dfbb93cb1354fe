// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile ${VAR} syntax, tested literally
/**
 * Proves, offline (no Docker engine), that the Dockerfiles under infra/docker and the root
 * .dockerignore keep Trainyard's image rules:
 * - each Dockerfile passes dockerfile-utils' validator with no error and no warning, and every
 *   rule of docker-checks.ts (pinned FROM, non-root USER, HEALTHCHECK, exec-form CMD/ENTRYPOINT,
 *   STOPSIGNAL SIGTERM, no baked secrets, production-only dependencies, NODE_ENV=production,
 *   EXPOSE = HEALTHCHECK port, root-owned app files, COPY sources in the build context);
 * - each image keeps the runtime contract (env defaults, ports, working directory, command,
 *   pnpm version, the GPU package's version = @tensorflow/tfjs's);
 * - .dockerignore leaves node_modules, .git, secrets and local data out;
 * - every rule fails on a small Dockerfile that breaks it (and only that rule fails), so a
 *   passing real file means something.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BuildContext,
  checkDockerfile,
  checkDockerignore,
  copySources,
  dockerfilePaths,
  execForm,
  exposedPorts,
  healthcheckCommand,
  healthcheckPorts,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  parseInstructions,
  ROOT,
  type RuleName,
  repoContext,
  resolveImage,
  type Stage,
  splitFlags,
  stageEnv,
  stageLabels,
} from './docker-checks.js';

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const rootPackage = JSON.parse(read('package.json')) as { packageManager: string };

function finalStage(text: string): Stage {
  return parseDockerfile(text).stages.at(-1)!;
}

function last(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

describe('infra/docker Dockerfiles', () => {
  const files = dockerfilePaths();
  const context = repoContext();

  // Proves the set of images is the one the deployment files reference, no more, no fewer.
  it('has one Dockerfile per image', () => {
    expect(files).toEqual([
      'infra/docker/api.Dockerfile',
      'infra/docker/scheduler.Dockerfile',
      'infra/docker/worker-gpu.Dockerfile',
      'infra/docker/worker.Dockerfile',
    ]);
  });

  // Proves each real Dockerfile lints clean (errors and warnings) and keeps every rule.
  it.each(files)('%s passes the lint and every rule', (file) => {
    expect(checkDockerfile(read(file), context)).toEqual([]);
  });

  // Proves the build stage uses the pnpm the repository pins (package.json packageManager)
  // with a frozen lockfile, and the final stage is a pinned Node 20 (or the CUDA base).
  it.each(files)('%s builds with the pinned pnpm and a frozen lockfile', (file) => {
    const text = read(file);
    const df = parseDockerfile(text);
    const pnpm = /pnpm@(\d+\.\d+\.\d+)/.exec(text)?.[1];
    expect(`pnpm@${pnpm}`).toBe(rootPackage.packageManager);
    expect(text).toMatch(/pnpm install --frozen-lockfile/);
    const nodeImage = resolveImage('${NODE_IMAGE}', df.globalArgs);
    expect(nodeImage).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
  });
});

interface ServiceImage {
  readonly file: string;
  readonly service: 'api' | 'scheduler' | 'worker';
  readonly port: number;
  readonly env: Record<string, string>;
}

const SERVICES: ServiceImage[] = [
  {
    file: 'infra/docker/api.Dockerfile',
    service: 'api',
    port: 8080,
    env: { NODE_ENV: 'production', API_HOST: '0.0.0.0', API_PORT: '8080', TSX_DISABLE_CACHE: '1' },
  },
  {
    file: 'infra/docker/scheduler.Dockerfile',
    service: 'scheduler',
    port: 9464,
    env: { NODE_ENV: 'production', METRICS_HOST: '0.0.0.0', METRICS_PORT: '9464', TSX_DISABLE_CACHE: '1' },
  },
  {
    file: 'infra/docker/worker.Dockerfile',
    service: 'worker',
    port: 9464,
    env: {
      NODE_ENV: 'production',
      METRICS_HOST: '0.0.0.0',
      METRICS_PORT: '9464',
      TRAINYARD_BACKEND: 'auto',
      TRAINYARD_STORE_DIR: '/var/lib/trainyard/objects',
      TSX_DISABLE_CACHE: '1',
    },
  },
];

const OCI_LABELS = [
  'org.opencontainers.image.title',
  'org.opencontainers.image.description',
  'org.opencontainers.image.version',
  'org.opencontainers.image.revision',
  'org.opencontainers.image.source',
  'org.opencontainers.image.base.name',
];

describe.each(SERVICES)('$file', ({ file, service, port, env }) => {
  const text = read(file);
  const df = parseDockerfile(text);
  const stage = finalStage(text);

  // Proves the container defaults of docs/configuration.md's "in a container" column.
  it('sets the container env defaults', () => {
    const actual = stageEnv(stage);
    for (const [k, v] of Object.entries(env)) expect(actual.get(k), k).toBe(v);
  });

  // Proves the image serves what its HEALTHCHECK probes, on the documented port.
  it(`exposes ${port} and health-checks /healthz there with node's fetch`, () => {
    expect(exposedPorts(stage)).toEqual([port]);
    const hc = healthcheckCommand(stage)!;
    expect(hc).toMatch(/^node -e .*fetch\(/);
    expect(hc).toContain('/healthz');
    expect(healthcheckPorts(hc)).toEqual([port]);
  });

  // Proves the command is the contract's `node --import tsx <service>/src/main.ts`, run under
  // tini from the deployed service folder, as uid 1000, and that the entry file exists.
  it('runs node --import tsx src/main.ts under tini as uid 1000', () => {
    expect(execForm(last(stage, 'ENTRYPOINT')!)).toEqual(['/usr/bin/tini', '--']);
    expect(execForm(last(stage, 'CMD')!)).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
    expect(last(stage, 'WORKDIR')).toBe(`/app/services/${service}`);
    expect(last(stage, 'USER')).toBe('1000:1000');
    expect(() => read(`services/${service}/src/main.ts`)).not.toThrow();
  });

  // Proves the final stage holds the production deploy of this very service, copied to the
  // working directory, and nothing else from the build context.
  it(`copies the pnpm deploy --prod of @trainyard/${service} into the working directory`, () => {
    const build = df.stages.find((s) => s.alias === 'build')!;
    const deploy = build.instructions.find((i) => i.keyword === 'RUN' && /\bdeploy\b/.test(i.args))!;
    expect(deploy.args).toContain(`--filter @trainyard/${service} deploy --prod`);
    expect(deploy.args).toMatch(/ \/out$/);
    const copies = stage.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies).toHaveLength(1);
    expect(splitFlags(copies[0]!.args).flags.get('from')).toBe('build');
    expect(copySources(copies[0]!)).toEqual(['/out']);
    expect(splitFlags(copies[0]!.args).rest.at(-1)).toBe(last(stage, 'WORKDIR'));
  });

  // Proves the OCI label set is present (title, version, revision, source, base).
  it('carries the org.opencontainers.image labels', () => {
    const labels = stageLabels(stage);
    for (const l of OCI_LABELS) expect(labels.has(l), l).toBe(true);
    expect(labels.get('org.opencontainers.image.title')).toBe(`trainyard-${service}`);
  });
});

describe('infra/docker/worker-gpu.Dockerfile', () => {
  const text = read('infra/docker/worker-gpu.Dockerfile');
  const df = parseDockerfile(text);
  const stage = finalStage(text);
  const script = read('scripts/worker-per-device.sh');

  // Proves the base matches tfjs-node-gpu 4.22.0's libtensorflow 2.9.1 (CUDA 11.2, cuDNN 8),
  // and that the GPU package is the same version as @tensorflow/tfjs (one shared tfjs-core).
  it('uses CUDA 11.2 + cuDNN 8 and the tfjs-node-gpu that matches @tensorflow/tfjs', () => {
    expect(resolveImage(stage.image, df.globalArgs)).toMatch(
      /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu20\.04/,
    );
    const engine = JSON.parse(read('packages/engine/package.json')) as {
      dependencies: Record<string, string>;
    };
    const tfjs = engine.dependencies['@tensorflow/tfjs'];
    expect(text).toContain(`@tensorflow/tfjs-node-gpu@${tfjs} `);
    expect(text).toContain('--allow-build=@tensorflow/tfjs-node-gpu');
  });

  // Proves the entrypoint is worker-per-device.sh at the path the script expects relative to
  // the deployed worker ($ROOT/services/worker/src/main.ts), and that WORKERS stays unset (the
  // script only looks for GPUs when WORKERS is empty).
  it('runs scripts/worker-per-device.sh over the deployed worker, WORKERS unset', () => {
    expect(execForm(last(stage, 'CMD')!)).toEqual(['bash', '/app/scripts/worker-per-device.sh']);
    expect(execForm(last(stage, 'ENTRYPOINT')!)).toEqual(['/usr/bin/tini', '--']);
    expect(text).toContain('COPY scripts/worker-per-device.sh /out/scripts/worker-per-device.sh');
    expect(text).toContain('deploy --prod --config.inject-workspace-packages=true /out/services/worker');
    expect(
      splitFlags(stage.instructions.find((i) => i.keyword === 'COPY' && i.args.includes('/out'))!.args).rest,
    ).toEqual(['/out', '/app']);
    expect(script).toContain('"$ROOT/services/worker/src/main.ts"');
    expect(script).toContain('if [ -z "${WORKERS:-}" ] && command -v nvidia-smi');
    expect(stageEnv(stage).has('WORKERS')).toBe(false);
    expect(last(stage, 'WORKDIR')).toBe('/app/services/worker');
    expect(last(stage, 'USER')).toBe('1000:1000');
    const env = stageEnv(stage);
    // A GPU image never falls back to wasm or to one CPU worker per host core: the native
    // backend or nothing, and no GPU listed is an error (scripts/worker-per-device.sh).
    expect(env.get('TRAINYARD_BACKEND')).toBe('tensorflow');
    expect(env.get('REQUIRE_GPU')).toBe('1');
    expect(script).toContain('REQUIRE_GPU');
    expect(env.get('METRICS_HOST')).toBe('0.0.0.0');
    expect(env.get('METRICS_PORT')).toBe('9464');
    expect(exposedPorts(stage)).toEqual([9464]);
  });
});

describe('.dockerignore', () => {
  const patterns = parseDockerignore(read('.dockerignore'));

  // Proves node_modules (any depth), .git, .env files, .tools, .data and coverage stay out.
  it('leaves node_modules, .git, secrets and local data out of the build context', () => {
    expect(checkDockerignore(read('.dockerignore'))).toEqual([]);
  });

  // Proves what the Dockerfiles need is still sent, test files are not.
  it('sends the manifests, sources and the worker script', () => {
    for (const p of [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'packages/core/src/index.ts',
      'services/worker/src/heartbeat-thread.mjs',
      'scripts/worker-per-device.sh',
    ]) {
      expect(isIgnored(patterns, p), p).toBe(false);
    }
    for (const p of ['scripts/demo.sh', 'test/e2e.test.ts', 'services/api/src/config.test.ts', 'README.md']) {
      expect(isIgnored(patterns, p), p).toBe(true);
    }
  });

  // Proves the matcher follows Docker's semantics: the last matching line wins, a parent
  // folder's match covers its files, `**` spans folders, `!` re-includes.
  it('matches like Docker (last match wins, parents, **, exceptions)', () => {
    const p = parseDockerignore('# c\n*\n!src/\nsrc/**/*.tmp\n!src/keep.tmp\n');
    expect(isIgnored(p, 'README.md')).toBe(true);
    expect(isIgnored(p, 'src/a/b.ts')).toBe(false);
    expect(isIgnored(p, 'src/a/b.tmp')).toBe(true);
    expect(isIgnored(p, 'src/keep.tmp')).toBe(false);
    // Only .git left out: node_modules would be sent, and the check says so.
    expect(checkDockerignore('.git\n').map((x) => x.message)).toContain(
      'node_modules/zod/package.json would be sent to the build context',
    );
    expect(checkDockerignore('**/node_modules\n').map((x) => x.message)).toContain(
      '.git/HEAD would be sent to the build context',
    );
  });
});

// ---------------------------------------------------------------------------------------
// Negative tests: a good minimal Dockerfile, then one change per case; exactly the rule that
// the change breaks must fail.

const GOOD = `# syntax=docker/dockerfile:1
ARG BASE=node:20.20.2-bookworm-slim
FROM \${BASE} AS build
WORKDIR /src
COPY package.json pnpm-lock.yaml ./
COPY packages ./packages
RUN pnpm install --frozen-lockfile \\
 && pnpm --filter @x/api deploy --prod /out
FROM \${BASE}
ENV NODE_ENV=production \\
    API_PORT=8080
COPY --from=build /out /app
WORKDIR /app
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz')"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "src/main.ts"]
`;

const FAKE_FILES = new Set([
  'package.json',
  'pnpm-lock.yaml',
  'packages',
  'node_modules',
  '.env',
  'secrets.env',
]);
const FAKE_IGNORE = parseDockerignore('**/node_modules\n');
const fakeContext: BuildContext = {
  exists: (p) => FAKE_FILES.has(p),
  excluded: (p) => isIgnored(FAKE_IGNORE, p),
};

function rulesFailing(text: string): RuleName[] {
  return [...new Set(checkDockerfile(text, fakeContext).map((p) => p.rule))].sort();
}

function edit(from: string, to: string): string {
  if (!GOOD.includes(from)) throw new Error(`the baseline has no ${JSON.stringify(from)}`);
  return GOOD.replace(from, to);
}

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('docker-checks rules on bad Dockerfiles', () => {
  // Proves the baseline passes, so each case below fails for its one change alone.
  it('passes the good baseline', () => {
    expect(checkDockerfile(GOOD, fakeContext)).toEqual([]);
    expect(parseInstructions(GOOD).map((i) => i.keyword)).toEqual([
      'ARG',
      'FROM',
      'WORKDIR',
      'COPY',
      'COPY',
      'RUN',
      'FROM',
      'ENV',
      'COPY',
      'WORKDIR',
      'USER',
      'EXPOSE',
      'HEALTHCHECK',
      'STOPSIGNAL',
      'ENTRYPOINT',
      'CMD',
    ]);
  });

  // Proves pins that are accepted: a digest, a full version tag, a stage alias.
  it('accepts a digest, a full version tag and a stage alias', () => {
    expect(rulesFailing(edit('FROM ${BASE}\n', `FROM node@${DIGEST}\n`))).toEqual([]);
    expect(
      rulesFailing(edit('FROM ${BASE}\n', 'FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04\n')),
    ).toEqual([]);
    expect(rulesFailing(edit('FROM ${BASE}\n', 'FROM build\n'))).toEqual([]);
  });

  // Proves a secret-looking ARG without a value (passed at build time) is not a baked secret.
  it('accepts an ARG named like a secret but without a value', () => {
    expect(rulesFailing(edit('ENV NODE_ENV', 'ARG NPM_TOKEN\nENV NODE_ENV'))).toEqual([]);
  });

  const cases: [RuleName, string, string][] = [
    ['lint', 'a lower-case instruction (warning)', edit('EXPOSE 8080', 'expose 8080')],
    ['lint', 'a bad HEALTHCHECK duration (error)', edit('--interval=10s', '--interval=10x')],
    ['lint', 'an empty continuation line (warning)', edit(' && pnpm --filter', '\n && pnpm --filter')],
    ['pinned-from', 'node:20', edit('ARG BASE=node:20.20.2-bookworm-slim', 'ARG BASE=node:20')],
    ['pinned-from', 'node:latest', edit('ARG BASE=node:20.20.2-bookworm-slim', 'ARG BASE=node:latest')],
    ['pinned-from', 'an untagged image', edit('ARG BASE=node:20.20.2-bookworm-slim', 'ARG BASE=node')],
    [
      'pinned-from',
      'node:20-bookworm-slim',
      edit('ARG BASE=node:20.20.2-bookworm-slim', 'ARG BASE=node:20-bookworm-slim'),
    ],
    ['pinned-from', 'a variable without a default', edit('ARG BASE=node:20.20.2-bookworm-slim', 'ARG BASE')],
    ['non-root-user', 'no USER', edit('USER 1000:1000\n', '')],
    ['non-root-user', 'USER root', edit('USER 1000:1000', 'USER root')],
    ['non-root-user', 'USER 0:0', edit('USER 1000:1000', 'USER 0:0')],
    ['healthcheck', 'HEALTHCHECK NONE', edit(/HEALTHCHECK .*\n/.exec(GOOD)![0], 'HEALTHCHECK NONE\n')],
    ['exec-form', 'a shell-form CMD', edit('CMD ["node", "src/main.ts"]', 'CMD node src/main.ts')],
    [
      'exec-form',
      'a shell-form ENTRYPOINT',
      edit('ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT /usr/bin/tini --'),
    ],
    [
      'exec-form',
      'neither CMD nor ENTRYPOINT',
      edit('ENTRYPOINT ["/usr/bin/tini", "--"]\nCMD ["node", "src/main.ts"]\n', ''),
    ],
    ['stopsignal', 'STOPSIGNAL SIGKILL', edit('STOPSIGNAL SIGTERM', 'STOPSIGNAL SIGKILL')],
    ['stopsignal', 'no STOPSIGNAL', edit('STOPSIGNAL SIGTERM\n', '')],
    ['no-secrets', 'ENV *PASSWORD* with a value', edit('API_PORT=8080', 'API_PORT=8080 DB_PASSWORD=hunter2')],
    ['no-secrets', 'ARG *TOKEN* with a value', edit('ENV NODE_ENV', 'ARG NPM_TOKEN=abc123\nENV NODE_ENV')],
    [
      'no-secrets',
      'ENV *SECRET* with a value',
      edit('API_PORT=8080', 'API_PORT=8080 S3_SECRET_ACCESS_KEY=x'),
    ],
    ['no-secrets', 'ENV *_KEY with a value', edit('API_PORT=8080', 'API_PORT=8080 SIGNING_KEY=x')],
    ['no-secrets', 'legacy ENV form', edit('ENV NODE_ENV', 'ENV REDIS_PASSWORD hunter2\nENV NODE_ENV')],
    ['no-secrets', 'COPY .env', edit('COPY packages ./packages', 'COPY packages ./packages\nCOPY .env ./')],
    [
      'no-secrets',
      'COPY *.env',
      edit('COPY packages ./packages', 'COPY packages ./packages\nCOPY secrets.env ./'),
    ],
    ['prod-install', 'pnpm deploy without --prod', edit('deploy --prod /out', 'deploy /out')],
    [
      'prod-install',
      'npm install in the final stage',
      edit('WORKDIR /app\n', 'WORKDIR /app\nRUN npm install\n'),
    ],
    [
      'prod-install',
      'pnpm install in the final stage',
      edit('WORKDIR /app\n', 'WORKDIR /app\nRUN pnpm install --frozen-lockfile\n'),
    ],
    ['prod-install', 'app not from a prod deploy', edit('COPY --from=build /out /app', 'COPY packages /app')],
    ['node-env', 'NODE_ENV unset', edit('NODE_ENV=production \\\n    ', '')],
    ['expose-healthcheck-port', 'EXPOSE another port', edit('EXPOSE 8080', 'EXPOSE 9464')],
    ['expose-healthcheck-port', 'no EXPOSE', edit('EXPOSE 8080\n', '')],
    ['root-owned-app', 'COPY --chown', edit('COPY --from=build', 'COPY --chown=1000:1000 --from=build')],
    [
      'root-owned-app',
      'RUN chown of the app',
      edit('USER 1000:1000', 'RUN chown -R 1000:1000 /app\nUSER 1000:1000'),
    ],
    ['copy-sources', 'a source not in the repository', edit('COPY packages ./packages', 'COPY libs ./libs')],
    [
      'copy-sources',
      'a source left out by .dockerignore',
      edit('COPY packages ./packages', 'COPY node_modules ./nm'),
    ],
  ];

  // Proves each rule fails on a Dockerfile that breaks it, and no other rule does.
  it.each(cases)('%s fails on %s', (rule, _what, text) => {
    expect(rulesFailing(text)).toEqual([rule]);
  });

  // Proves no HEALTHCHECK at all is caught (and nothing else: the port rule defers to it).
  it('healthcheck fails when there is none', () => {
    const text = GOOD.replace(/HEALTHCHECK .*\n/, '');
    expect(rulesFailing(text)).toEqual(['healthcheck']);
  });
});
