// What this proves, offline (no cluster): the Kubernetes manifests under infra/k8s render
// with `kubectl kustomize` (base, overlays/onprem, overlays/cloud, and base plus the
// without-prometheus-operator component); every rendered object is valid against the
// Kubernetes API schemas (kubernetes-models) and the Prometheus Operator CRD schemas, and an
// unknown kind fails; every rule of k8s-rules.ts holds (resources, probes, hardened pods, GPU
// workers with a drain-sized grace period, least privilege, namespace, default-deny
// networking where only the api is reachable from outside, PDBs, references that resolve,
// selectors that match, scrape annotations); the PrometheusRule carries exactly the groups
// of infra/observability/prometheus/rules/trainyard.rules.yml; every Grafana dashboard JSON
// ships as a sidecar ConfigMap; the committed secrets are placeholders that the pods refuse
// to run with; and the overlays wire Redis/S3 consistently. Negative cases feed broken
// objects to the same functions and show they are rejected.
// Without kubectl the tests say so and validate the unrendered YAML files instead
// (TRAINYARD_K8S_FORCE_FALLBACK=1 forces that path).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  FALLBACK_NOTICE,
  fallbackRender,
  K8S_DIR,
  kubectlAvailable,
  kubectlRender,
  REPO_ROOT,
  type Rendered,
  render,
} from './k8s-render.js';
import { APP_COMPONENTS, COMPONENT_LABEL, checkRules, podsOf } from './k8s-rules.js';
import { validateSchemas } from './k8s-schema.js';
import type { Container, K8sObject, NetworkPolicySpec, PodTemplate, ServicePort } from './k8s-types.js';

const useKubectl = kubectlAvailable();
if (!useKubectl) console.warn(`\n[test/infra/k8s.test.ts] ${FALLBACK_NOTICE}\n`);
const NEEDS_KUBECTL =
  '(skipped without kubectl: needs the patches/images/components that only kubectl kustomize applies)';

const TARGETS = [
  { name: 'base', dir: join(K8S_DIR, 'base') },
  { name: 'overlays/onprem', dir: join(K8S_DIR, 'overlays', 'onprem') },
  { name: 'overlays/cloud', dir: join(K8S_DIR, 'overlays', 'cloud') },
] as const;

const RULES_FILE = join(REPO_ROOT, 'infra', 'observability', 'prometheus', 'rules', 'trainyard.rules.yml');
const DASHBOARDS_DIR = join(REPO_ROOT, 'infra', 'observability', 'grafana', 'dashboards');

// --- small accessors over rendered objects ---------------------------------------------

function get(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} is not in the render`);
  return o;
}

/** A generated ConfigMap/Secret, whatever hash suffix kustomize gave its name. */
function generated(objects: readonly K8sObject[], kind: 'ConfigMap' | 'Secret', name: string): K8sObject {
  const hashed = (n: string) => n.startsWith(`${name}-`) && /^[a-z0-9]{10}$/.test(n.slice(name.length + 1));
  const o = objects.find((x) => x.kind === kind && (x.metadata.name === name || hashed(x.metadata.name)));
  if (!o) throw new Error(`${kind} ${name} is not in the render`);
  return o;
}

function configData(objects: readonly K8sObject[]): Record<string, string> {
  return generated(objects, 'ConfigMap', 'trainyard-config').data as Record<string, string>;
}

function secretData(objects: readonly K8sObject[]): Record<string, string> {
  const data = generated(objects, 'Secret', 'trainyard-secrets').data as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function template(o: K8sObject): PodTemplate {
  return (o.spec as { template: PodTemplate }).template;
}

function container(o: K8sObject, name: string): Container {
  const c = template(o).spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${o.kind} ${o.metadata.name} has no container ${name}`);
  return c;
}

function servicePorts(o: K8sObject): ServicePort[] {
  return (o.spec as { ports: ServicePort[] }).ports;
}

function policy(objects: readonly K8sObject[], name: string): NetworkPolicySpec {
  return get(objects, 'NetworkPolicy', name).spec as NetworkPolicySpec;
}

/** Each directory is rendered once per run (several describe blocks read the same render). */
const renders = new Map<string, Rendered>();
function rendered(dir: string): Rendered {
  let r = renders.get(dir);
  if (!r) {
    r = render(dir, useKubectl);
    renders.set(dir, r);
  }
  return r;
}

const clone = (objects: readonly K8sObject[]): K8sObject[] => structuredClone(objects) as K8sObject[];

/**
 * Renders a throwaway kustomization of `resource` (relative to infra/k8s) plus `component`
 * (kustomize takes only relative paths to other kustomizations), with extra YAML lines and
 * files beside it.
 */
function renderComposition(
  resource: string,
  component: string,
  extra: { lines?: string[]; files?: Record<string, string> } = {},
): K8sObject[] {
  const tmp = mkdtempSync(join(tmpdir(), 'trainyard-k8s-'));
  try {
    const rel = relative(tmp, K8S_DIR);
    for (const [name, text] of Object.entries(extra.files ?? {})) writeFileSync(join(tmp, name), text);
    writeFileSync(
      join(tmp, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${rel}/${resource}`,
        'components:',
        `  - ${rel}/components/${component}`,
        ...(extra.lines ?? []),
        '',
      ].join('\n'),
    );
    return kubectlRender(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// --- every render -------------------------------------------------------------------------

describe.each(TARGETS)('$name', ({ dir }) => {
  let r: Rendered;
  beforeAll(() => {
    r = rendered(dir);
  });

  it(`renders (${useKubectl ? 'kubectl kustomize' : 'FALLBACK: unrendered files, kubectl missing'})`, () => {
    expect(r.mode).toBe(useKubectl ? 'kubectl' : 'fallback');
    expect(r.objects.length).toBeGreaterThan(20);
  });

  it('every object is valid against the Kubernetes and Prometheus Operator schemas', async () => {
    expect(await validateSchemas(r.objects)).toEqual([]);
  });

  it('every deployment rule holds', () => {
    expect(checkRules(r.objects)).toEqual([]);
  });

  it('api, scheduler and worker have the specified shape', () => {
    const api = get(r.objects, 'Deployment', 'trainyard-api');
    const scheduler = get(r.objects, 'Deployment', 'trainyard-scheduler');
    const worker = get(r.objects, 'Deployment', 'trainyard-worker');
    expect((api.spec as { replicas: number }).replicas).toBe(2);
    expect((scheduler.spec as { replicas: number }).replicas).toBe(2);
    expect(template(api).spec.terminationGracePeriodSeconds).toBe(30);
    expect(template(scheduler).spec.terminationGracePeriodSeconds).toBe(30);
    expect(template(worker).spec.terminationGracePeriodSeconds).toBe(120);

    const a = container(api, 'api');
    expect(a.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(a.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(a.startupProbe?.httpGet?.path).toBe('/healthz');
    for (const [o, name] of [
      [scheduler, 'scheduler'],
      [worker, 'worker'],
    ] as const) {
      const c = container(o, name);
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(c.ports).toContainEqual({ name: 'metrics', containerPort: 9464, protocol: 'TCP' });
    }
    const w = container(worker, 'worker');
    expect(w.image).toMatch(/trainyard\/worker-gpu:0\.1\.0$/);
    expect(w.env).toContainEqual({ name: 'TRAINYARD_BACKEND', value: 'tensorflow' });
    expect(w.env).toContainEqual({ name: 'WORKER_DRAIN_GRACE_MS', value: '60000' });
    expect(w.resources?.limits?.['nvidia.com/gpu']).toBe(1);

    // Every app container writes only to its /tmp emptyDir (tsx cache).
    for (const [o, name] of [
      [api, 'api'],
      [scheduler, 'scheduler'],
      [worker, 'worker'],
    ] as const) {
      expect(container(o, name).volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(template(o).spec.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
    }

    expect(servicePorts(get(r.objects, 'Service', 'trainyard-api'))).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
    expect(a.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    for (const name of ['trainyard-scheduler', 'trainyard-worker']) {
      const svc = get(r.objects, 'Service', name);
      expect((svc.spec as { clusterIP?: string }).clusterIP).toBe('None');
      expect(servicePorts(svc)).toEqual([
        { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
      ]);
    }

    const pdb = (name: string) => get(r.objects, 'PodDisruptionBudget', name).spec as Record<string, unknown>;
    expect(pdb('trainyard-api').minAvailable).toBe(1);
    expect(pdb('trainyard-scheduler').minAvailable).toBe(1);
    expect(pdb('trainyard-worker').maxUnavailable).toBe(1);
  });

  it('the settings the services read agree with the ports the manifests open', () => {
    const cfg = configData(r.objects);
    expect(cfg).toMatchObject({
      API_HOST: '0.0.0.0',
      API_PORT: '8080',
      METRICS_HOST: '0.0.0.0',
      METRICS_PORT: '9464',
    });
    expect(cfg.TRAINYARD_PREFIX).toBe('trainyard');
    // A valid bucket name, or a placeholder the pods refuse to start with (cloud).
    expect(cfg.S3_BUCKET).toMatch(/^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|CHANGE-ME-[a-z0-9-]+)$/);
    for (const pod of podsOf(r.objects).filter(
      (p) => p.component === 'scheduler' || p.component === 'worker',
    )) {
      const ports = pod.template.spec.containers
        .flatMap((c) => c.ports ?? [])
        .map((p) => String(p.containerPort));
      expect(ports).toContain(cfg.METRICS_PORT);
    }
  });

  it('the ServiceMonitor scrapes the Services of the api, the scheduler and the workers', () => {
    const sm = get(r.objects, 'ServiceMonitor', 'trainyard');
    const spec = sm.spec as { endpoints: { port: string; path: string }[] };
    expect(spec.endpoints.map((e) => [e.port, e.path])).toEqual([
      ['http', '/metrics'],
      ['metrics', '/metrics'],
    ]);
    // checkRules has shown it selects Services exposing those ports; here: all three of them.
    const labelsOf = (name: string) => get(r.objects, 'Service', name).metadata.labels ?? {};
    for (const c of APP_COMPONENTS) expect(labelsOf(`trainyard-${c}`)[COMPONENT_LABEL]).toBe(c);
  });

  it('ships no real secret: every committed secret value is a CHANGE-ME placeholder or empty', () => {
    for (const [key, value] of Object.entries(secretData(r.objects))) {
      expect(
        value === '' || value.includes('CHANGE-ME'),
        `${key} must be a placeholder in the repository`,
      ).toBe(true);
    }
  });

  it('every api, scheduler and worker pod refuses to start while a setting is a CHANGE-ME placeholder', () => {
    for (const pod of podsOf(r.objects).filter((p) => APP_COMPONENTS.includes(p.component as 'api'))) {
      const guard = pod.template.spec.initContainers?.find((c) => c.name === 'refuse-placeholders');
      expect(guard, `${pod.owner.metadata.name} has the refuse-placeholders init container`).toBeDefined();
      const refs = (guard?.envFrom ?? []).map((e) => e.configMapRef?.name ?? e.secretRef?.name);
      expect(refs).toEqual([
        generated(r.objects, 'ConfigMap', 'trainyard-config').metadata.name,
        generated(r.objects, 'Secret', 'trainyard-secrets').metadata.name,
      ]);
      const [node, ...args] = guard?.command ?? [];
      expect(node).toBe('node');
      const run = (env: Record<string, string>) =>
        spawnSync(process.execPath, args, {
          env: { PATH: process.env.PATH ?? '', ...env },
          encoding: 'utf8',
        });
      // The committed settings and secrets, as the pod would see them: refused, naming the keys.
      const committed = run({ ...configData(r.objects), ...secretData(r.objects) });
      expect(committed.status).toBe(1);
      expect(committed.stderr).toMatch(/refusing to start: .*API_KEYS/);
      expect(committed.stderr).toContain('REDIS_URL');
      // Real values: accepted.
      const real = run({ API_KEYS: 'k3y-0123456789abcdef', REDIS_URL: 'redis://:s3cret@redis:6379' });
      expect(real.status, real.stderr).toBe(0);
    }
  });
});

// --- observability wiring -------------------------------------------------------------------

describe('observability', () => {
  let base: Rendered;
  beforeAll(() => {
    base = rendered(join(K8S_DIR, 'base'));
  });

  it('the PrometheusRule carries exactly the groups of the Prometheus rule file', () => {
    const rules = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: unknown };
    const pr = get(base.objects, 'PrometheusRule', 'trainyard');
    expect(
      (pr.spec as { groups: unknown }).groups,
      'infra/k8s/base/prometheusrule.yaml differs from the rule file: run node infra/k8s/tools/sync-prometheus-rule.mjs',
    ).toEqual(rules.groups);
  });

  it('every Grafana dashboard JSON ships, byte for byte, in a ConfigMap for the Grafana sidecar', () => {
    const files = readdirSync(DASHBOARDS_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    const maps = base.objects.filter(
      (o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1',
    );
    const shipped = maps.flatMap((m) => Object.keys(m.data as Record<string, string>)).sort();
    expect(shipped, 'list every dashboard in infra/observability/kustomization.yaml').toEqual(files);
    for (const m of maps) {
      expect(m.metadata.namespace).toBe('trainyard');
      for (const [file, text] of Object.entries(m.data as Record<string, string>)) {
        expect(text).toBe(readFileSync(join(DASHBOARDS_DIR, file), 'utf8'));
        expect(() => JSON.parse(text)).not.toThrow();
      }
      // A client-side `kubectl apply` stores the object in a 256 KiB annotation.
      expect(JSON.stringify(m).length).toBeLessThan(250_000);
    }
  });

  it.skipIf(!useKubectl)(
    `the without-prometheus-operator component removes exactly the ServiceMonitor and PrometheusRule ${useKubectl ? '' : NEEDS_KUBECTL}`,
    async () => {
      const objects = renderComposition('base', 'without-prometheus-operator');
      const kinds = (os: readonly K8sObject[]) => os.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(kinds(objects)).toEqual(
        kinds(base.objects).filter(
          (k) => k !== 'ServiceMonitor/trainyard' && k !== 'PrometheusRule/trainyard',
        ),
      );
      expect(await validateSchemas(objects)).toEqual([]);
      expect(checkRules(objects)).toEqual([]);
    },
  );
});

describe('components/cpu-workers', () => {
  it.skipIf(!useKubectl)(
    `turns the GPU workers of either overlay into one-core wasm workers on the CPU image ${useKubectl ? '' : NEEDS_KUBECTL}`,
    async () => {
      for (const overlay of ['onprem', 'cloud']) {
        const objects = renderComposition(`overlays/${overlay}`, 'cpu-workers');
        expect(await validateSchemas(objects)).toEqual([]);
        expect(checkRules(objects)).toEqual([]);
        const worker = get(objects, 'Deployment', 'trainyard-worker');
        const main = container(worker, 'worker');
        expect(main.image).toBe('trainyard/worker:0.1.0');
        expect(template(worker).spec.initContainers?.[0]?.image).toBe('trainyard/worker:0.1.0');
        expect(main.resources).toEqual({
          requests: { cpu: '1', memory: '1Gi' },
          limits: { cpu: '1', memory: '2Gi' },
        });
        expect(main.env?.find((e) => e.name === 'TRAINYARD_BACKEND')?.value).toBe('wasm');
        const spec = template(worker).spec as { nodeSelector?: unknown; tolerations?: unknown };
        expect(spec.nodeSelector).toBeUndefined();
        expect(spec.tolerations).toBeUndefined();
        // A GPU request on the CPU image is refused by the rules.
        const broken = clone(objects);
        const w = container(get(broken, 'Deployment', 'trainyard-worker'), 'worker');
        w.resources!.requests!['nvidia.com/gpu'] = 1;
        expect(checkRules(broken).join('\n')).toMatch(
          /CPU image trainyard\/worker:0\.1\.0 must not request nvidia\.com\/gpu/,
        );
      }
    },
  );
});

describe('components/redis-ca', () => {
  it.skipIf(!useKubectl)(
    `mounts the private CA into the api, schedulers and workers and points NODE_EXTRA_CA_CERTS at it ${useKubectl ? '' : NEEDS_KUBECTL}`,
    async () => {
      const objects = renderComposition('overlays/cloud', 'redis-ca', {
        files: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
        lines: [
          'configMapGenerator:',
          '  - name: trainyard-redis-ca',
          '    namespace: trainyard',
          '    files:',
          '      - ca.crt',
        ],
      });
      expect(await validateSchemas(objects)).toEqual([]);
      expect(checkRules(objects)).toEqual([]);
      const ca = generated(objects, 'ConfigMap', 'trainyard-redis-ca');
      for (const [name, c] of [
        ['trainyard-api', 'api'],
        ['trainyard-scheduler', 'scheduler'],
        ['trainyard-worker', 'worker'],
      ] as const) {
        const d = get(objects, 'Deployment', name);
        const main = container(d, c);
        expect(main.env).toContainEqual({
          name: 'NODE_EXTRA_CA_CERTS',
          value: '/etc/trainyard/redis-ca/ca.crt',
        });
        expect(main.volumeMounts).toContainEqual({
          name: 'redis-ca',
          mountPath: '/etc/trainyard/redis-ca',
          readOnly: true,
        });
        expect(template(d).spec.volumes).toContainEqual({
          name: 'redis-ca',
          configMap: { name: ca.metadata.name },
        });
      }
    },
  );
});

// --- overlays -----------------------------------------------------------------------------

describe('overlays/onprem', () => {
  let r: Rendered;
  beforeAll(() => {
    r = rendered(join(K8S_DIR, 'overlays', 'onprem'));
  });

  it('runs Redis 7 with AOF and noeviction on a PVC, as the non-root redis user', () => {
    const redis = get(r.objects, 'StatefulSet', 'trainyard-redis');
    const c = container(redis, 'redis');
    expect(c.image).toMatch(/^redis:7\.\d+\.\d+$/);
    const script = (c.args ?? []).join('\n');
    expect(script).toMatch(/--appendonly yes/);
    expect(script).toMatch(/--maxmemory-policy noeviction/);
    expect(script).toMatch(/requirepass \$REDIS_PASSWORD/);
    expect(template(redis).spec.securityContext).toMatchObject({ runAsUser: 999, runAsNonRoot: true });
    const claims = (redis.spec as { volumeClaimTemplates: { metadata: { name: string } }[] })
      .volumeClaimTemplates;
    expect(claims.map((v) => v.metadata.name)).toEqual(['data']);
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
  });

  it('runs MinIO on a PVC and creates the bucket idempotently with a pinned mc', () => {
    const minio = get(r.objects, 'StatefulSet', 'trainyard-minio');
    expect(container(minio, 'minio').image).toMatch(/^quay\.io\/minio\/minio:RELEASE\.\d{4}-\d\d-\d\dT/);
    expect((minio.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates).toHaveLength(1);
    const job = get(r.objects, 'Job', 'trainyard-minio-bucket');
    const mc = container(job, 'mc');
    expect(mc.image).toMatch(/^quay\.io\/minio\/mc:RELEASE\.\d{4}-\d\d-\d\dT/);
    expect((mc.args ?? []).join('\n')).toContain('mc mb --ignore-existing "trainyard/$S3_BUCKET"');
  });

  it('REDIS_URL and S3_ENDPOINT point at the in-cluster Services, with the Redis password in both places', () => {
    const secrets = secretData(r.objects);
    const url = new URL(secrets.REDIS_URL ?? '');
    expect(url.protocol).toBe('redis:');
    expect(decodeURIComponent(url.password)).toBe(secrets.REDIS_PASSWORD);
    const redisSvc = get(r.objects, 'Service', url.hostname);
    expect(servicePorts(redisSvc).map((p) => p.port)).toContain(Number(url.port));
    const cfg = configData(r.objects);
    const s3 = new URL(cfg.S3_ENDPOINT ?? '');
    expect(servicePorts(get(r.objects, 'Service', s3.hostname)).map((p) => p.port)).toContain(
      Number(s3.port),
    );
    expect(cfg.S3_FORCE_PATH_STYLE).toBe('true');
  });

  it.skipIf(!useKubectl)(
    `Redis and S3 egress reach only the in-cluster pods ${useKubectl ? '' : NEEDS_KUBECTL}`,
    () => {
      const to = (name: string) => policy(r.objects, name).egress?.map((e) => e.to);
      expect(to('trainyard-redis-egress')).toEqual([
        [
          {
            podSelector: {
              matchLabels: { 'app.kubernetes.io/name': 'trainyard', [COMPONENT_LABEL]: 'redis' },
            },
          },
        ],
      ]);
      expect(to('trainyard-s3-egress')).toEqual([
        [
          {
            podSelector: {
              matchLabels: { 'app.kubernetes.io/name': 'trainyard', [COMPONENT_LABEL]: 'minio' },
            },
          },
        ],
      ]);
    },
  );
});

describe('overlays/cloud', () => {
  let r: Rendered;
  beforeAll(() => {
    r = rendered(join(K8S_DIR, 'overlays', 'cloud'));
  });

  it('uses a managed Redis over TLS and AWS S3 (no endpoint), with no in-cluster datastore', () => {
    expect(new URL(secretData(r.objects).REDIS_URL ?? '').protocol).toBe('rediss:');
    const cfg = configData(r.objects);
    expect(cfg.S3_ENDPOINT).toBe('');
    expect(cfg.S3_FORCE_PATH_STYLE).toBe('false');
    expect(cfg.S3_REGION).toMatch(/^[a-z]{2}(-[a-z]+)+-\d$/); // an AWS region
    expect(r.objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
  });

  it.skipIf(!useKubectl)(
    `workers go to GPU nodes and images come from the registry ${useKubectl ? '' : NEEDS_KUBECTL}`,
    () => {
      const spec = template(get(r.objects, 'Deployment', 'trainyard-worker')).spec;
      expect(spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
      expect(spec.tolerations).toContainEqual({
        key: 'nvidia.com/gpu',
        operator: 'Exists',
        effect: 'NoSchedule',
      });
      for (const pod of podsOf(r.objects)) {
        for (const c of [...pod.template.spec.containers, ...(pod.template.spec.initContainers ?? [])]) {
          expect(c.image).toMatch(/^registry\.example\.com\/trainyard\/[a-z-]+:0\.1\.0$/);
        }
      }
    },
  );

  it.skipIf(!useKubectl)(
    `Redis and S3 egress go to addresses outside the cluster ranges, by port ${useKubectl ? '' : NEEDS_KUBECTL}`,
    () => {
      for (const [name, port] of [
        ['trainyard-redis-egress', 6379],
        ['trainyard-s3-egress', 443],
      ] as const) {
        const egress = policy(r.objects, name).egress ?? [];
        expect(egress).toHaveLength(1);
        expect(egress[0]?.ports).toEqual([{ protocol: 'TCP', port }]);
        const block = egress[0]?.to?.[0]?.ipBlock;
        expect(block?.cidr).toBe('0.0.0.0/0');
        expect(block?.except?.length).toBeGreaterThan(0);
      }
    },
  );
});

// --- the fallback path (also run when kubectl exists, so it is known to work) -------------

describe('fallback renderer (for machines without kubectl)', () => {
  it.each(TARGETS)('$name: its objects pass the schemas and the rules', async ({ dir }) => {
    const objects = fallbackRender(dir);
    expect(await validateSchemas(objects)).toEqual([]);
    expect(checkRules(objects)).toEqual([]);
  });

  it.skipIf(!useKubectl)(
    `finds the same objects as kubectl kustomize (base and both overlays) ${useKubectl ? '' : NEEDS_KUBECTL}`,
    () => {
      for (const { dir } of TARGETS) {
        const fallback = fallbackRender(dir);
        const names = new Set(fallback.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`));
        const fromKubectl = rendered(dir).objects.map((o) => {
          const key = `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
          const unhashed = key.replace(/-[a-z0-9]{10}$/, '');
          return names.has(key) ? key : unhashed;
        });
        expect(fromKubectl.sort()).toEqual([...names].sort());
      }
    },
  );
});

// --- negative cases: broken objects are rejected by the same functions --------------------

describe('rejects broken manifests', () => {
  let good: K8sObject[];
  beforeAll(() => {
    good = fallbackRender(join(K8S_DIR, 'overlays', 'onprem'));
  });

  const deployment = (objects: K8sObject[], name: string) => get(objects, 'Deployment', name);

  it('schema: a Deployment with replicas "two" is invalid', async () => {
    const broken = clone(good);
    (deployment(broken, 'trainyard-api').spec as { replicas: unknown }).replicas = 'two';
    const problems = await validateSchemas(broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Deployment trainyard\/trainyard-api: .*replicas must be integer/);
  });

  it('schema: a container port that is not a number is invalid', async () => {
    const broken = clone(good);
    const ports = container(deployment(broken, 'trainyard-worker'), 'worker').ports ?? [];
    (ports[0] as { containerPort: unknown }).containerPort = 'nine-four-six-four';
    expect((await validateSchemas(broken)).join('\n')).toMatch(
      /Deployment trainyard\/trainyard-worker: .*containerPort/,
    );
  });

  it('schema: an unknown kind fails', async () => {
    const widget = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: 'trainyard' },
    };
    expect(await validateSchemas([widget])).toEqual([
      expect.stringMatching(/^Widget trainyard\/w: no schema for apiVersion example.com\/v1 kind Widget/),
    ]);
  });

  type Mutation = [string, (objects: K8sObject[]) => void, RegExp];
  const cases: Mutation[] = [
    [
      'a container without limits',
      (o) => {
        delete container(deployment(o, 'trainyard-api'), 'api').resources?.limits;
      },
      /Deployment trainyard\/trainyard-api container api: resources\.limits\.cpu is missing/,
    ],
    [
      'an init container without requests',
      (o) => {
        const init = template(deployment(o, 'trainyard-scheduler')).spec.initContainers?.[0];
        if (init?.resources) delete init.resources.requests;
      },
      /trainyard-scheduler initContainer refuse-placeholders: resources\.requests\.memory is missing/,
    ],
    [
      'a container without a readiness probe',
      (o) => {
        delete container(get(o, 'StatefulSet', 'trainyard-redis'), 'redis').readinessProbe;
      },
      /StatefulSet trainyard\/trainyard-redis container redis: readinessProbe is missing/,
    ],
    [
      'a container that may escalate privileges and keeps its capabilities',
      (o) => {
        const c = container(deployment(o, 'trainyard-api'), 'api');
        c.securityContext = { ...c.securityContext, allowPrivilegeEscalation: true, capabilities: {} };
      },
      /container api: allowPrivilegeEscalation must be false[\s\S]*container api: capabilities\.drop must include ALL/,
    ],
    [
      'a pod that may run as root',
      (o) => {
        const t = template(deployment(o, 'trainyard-worker'));
        delete t.spec.securityContext?.runAsNonRoot;
        for (const c of [...t.spec.containers, ...(t.spec.initContainers ?? [])])
          delete c.securityContext?.runAsNonRoot;
      },
      /trainyard-worker container worker: runAsNonRoot must be true/,
    ],
    [
      'workers without a GPU',
      (o) => {
        const res = container(deployment(o, 'trainyard-worker'), 'worker').resources;
        delete res?.requests?.['nvidia.com/gpu'];
        delete res?.limits?.['nvidia.com/gpu'];
      },
      /trainyard-worker: workers must request and limit nvidia\.com\/gpu/,
    ],
    [
      'workers killed before their drain ends',
      (o) => {
        template(deployment(o, 'trainyard-worker')).spec.terminationGracePeriodSeconds = 30;
      },
      /trainyard-worker: terminationGracePeriodSeconds 30 < 90/,
    ],
    [
      'a workload without a PodDisruptionBudget',
      (o) => {
        o.splice(o.indexOf(get(o, 'PodDisruptionBudget', 'trainyard-worker')), 1);
      },
      /Deployment trainyard\/trainyard-worker: no PodDisruptionBudget selects its pods/,
    ],
    [
      'workers reachable from outside the namespace',
      (o) => {
        policy(o, 'trainyard-api-ingress').podSelector = { matchLabels: { [COMPONENT_LABEL]: 'worker' } };
      },
      /trainyard-api-ingress: admits sources outside the namespace to Deployment trainyard\/trainyard-worker[\s\S]*no policy admits clients from outside the namespace to the api/,
    ],
    [
      'Redis reachable from every pod of the namespace',
      (o) => {
        const rule = policy(o, 'trainyard-redis-ingress').ingress?.[0];
        if (rule) rule.from = [{ podSelector: {} }];
      },
      /trainyard-redis-ingress: lets StatefulSet trainyard\/trainyard-minio reach StatefulSet trainyard\/trainyard-redis/,
    ],
    [
      'no default deny',
      (o) => {
        o.splice(o.indexOf(get(o, 'NetworkPolicy', 'trainyard-default-deny')), 1);
      },
      /a default deny of ingress and egress for every pod/,
    ],
    [
      'the api allowed to reach S3',
      (o) => {
        const spec = policy(o, 'trainyard-s3-egress');
        spec.podSelector = { matchLabels: { 'app.kubernetes.io/name': 'trainyard' } };
      },
      /Deployment trainyard\/trainyard-api: egress TCP\/443 is allowed, but it needs only/,
    ],
    [
      'an env reference to a Secret key that does not exist',
      (o) => {
        const ref = container(deployment(o, 'trainyard-api'), 'api').env?.find((e) => e.name === 'API_KEYS');
        if (ref?.valueFrom?.secretKeyRef) ref.valueFrom.secretKeyRef.key = 'API_KEYZ';
      },
      /env API_KEYS refers to key API_KEYZ of Secret trainyard-secrets, which has no such key/,
    ],
    [
      'envFrom a ConfigMap that is not rendered',
      (o) => {
        const from = container(deployment(o, 'trainyard-worker'), 'worker').envFrom?.[0];
        if (from?.configMapRef) from.configMapRef.name = 'trainyard-settings';
      },
      /envFrom refers to ConfigMap trainyard-settings, which is not in the render/,
    ],
    [
      'a selector that does not match the pod template',
      (o) => {
        const t = template(deployment(o, 'trainyard-scheduler'));
        if (t.metadata?.labels) t.metadata.labels[COMPONENT_LABEL] = 'sched';
      },
      /Deployment trainyard\/trainyard-scheduler: spec\.selector must be non-empty and match[\s\S]*Service trainyard\/trainyard-scheduler: its selector matches no pod template/,
    ],
    [
      'a Service targeting a port no container exposes',
      (o) => {
        const port = servicePorts(get(o, 'Service', 'trainyard-api'))[0];
        if (port) port.targetPort = 'web';
      },
      /Service trainyard\/trainyard-api: port http targets web, which no selected container exposes/,
    ],
    [
      'missing scrape annotations',
      (o) => {
        delete template(deployment(o, 'trainyard-scheduler')).metadata?.annotations?.['prometheus.io/scrape'];
      },
      /trainyard-scheduler: prometheus\.io\/scrape must be "true"/,
    ],
    [
      'an object outside the trainyard namespace',
      (o) => {
        get(o, 'Service', 'trainyard-worker').metadata.namespace = 'default';
      },
      /Service default\/trainyard-worker: must be in namespace trainyard/,
    ],
    [
      'a Role (Kubernetes API access)',
      (o) => {
        o.push({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'r', namespace: 'trainyard' },
        });
      },
      /Role trainyard\/r: no RBAC objects/,
    ],
    [
      'a mounted service account token',
      (o) => {
        template(deployment(o, 'trainyard-api')).spec.automountServiceAccountToken = true;
      },
      /trainyard-api: pod automountServiceAccountToken must be false/,
    ],
    [
      'an unpinned image',
      (o) => {
        container(get(o, 'StatefulSet', 'trainyard-redis'), 'redis').image = 'redis:latest';
      },
      /container redis: image "redis:latest" must be pinned/,
    ],
  ];

  it.each(cases)('rules: %s', (_name, mutate, expected) => {
    const broken = clone(good);
    mutate(broken);
    const problems = checkRules(broken);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('the unmodified objects these cases start from pass', () => {
    expect(checkRules(good)).toEqual([]);
  });
});
