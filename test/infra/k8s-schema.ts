import type { K8sObject } from './k8s-types.js';

/**
 * Validates objects against the Kubernetes API schemas (kubernetes-models, generated from
 * the Kubernetes OpenAPI spec) and the Prometheus Operator CRD schemas
 * (@kubernetes-models/prometheus-operator). Each apiVersion/kind maps to one model class;
 * a kind missing from the map is an error, never silently accepted.
 */

interface ModelClass {
  new (data: unknown): { validate(): void };
}

const load =
  <M>(importer: () => Promise<M>, pick: (m: M) => unknown) =>
  async (): Promise<ModelClass> =>
    pick(await importer()) as ModelClass;

const MODELS: Record<string, () => Promise<ModelClass>> = {
  'v1/Namespace': load(
    () => import('kubernetes-models/v1/Namespace'),
    (m) => m.Namespace,
  ),
  'v1/ServiceAccount': load(
    () => import('kubernetes-models/v1/ServiceAccount'),
    (m) => m.ServiceAccount,
  ),
  'v1/ConfigMap': load(
    () => import('kubernetes-models/v1/ConfigMap'),
    (m) => m.ConfigMap,
  ),
  'v1/Secret': load(
    () => import('kubernetes-models/v1/Secret'),
    (m) => m.Secret,
  ),
  'v1/Service': load(
    () => import('kubernetes-models/v1/Service'),
    (m) => m.Service,
  ),
  'v1/PersistentVolumeClaim': load(
    () => import('kubernetes-models/v1/PersistentVolumeClaim'),
    (m) => m.PersistentVolumeClaim,
  ),
  'apps/v1/Deployment': load(
    () => import('kubernetes-models/apps/v1/Deployment'),
    (m) => m.Deployment,
  ),
  'apps/v1/StatefulSet': load(
    () => import('kubernetes-models/apps/v1/StatefulSet'),
    (m) => m.StatefulSet,
  ),
  'apps/v1/DaemonSet': load(
    () => import('kubernetes-models/apps/v1/DaemonSet'),
    (m) => m.DaemonSet,
  ),
  'batch/v1/Job': load(
    () => import('kubernetes-models/batch/v1/Job'),
    (m) => m.Job,
  ),
  'batch/v1/CronJob': load(
    () => import('kubernetes-models/batch/v1/CronJob'),
    (m) => m.CronJob,
  ),
  'policy/v1/PodDisruptionBudget': load(
    () => import('kubernetes-models/policy/v1/PodDisruptionBudget'),
    (m) => m.PodDisruptionBudget,
  ),
  'networking.k8s.io/v1/NetworkPolicy': load(
    () => import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
    (m) => m.NetworkPolicy,
  ),
  'networking.k8s.io/v1/Ingress': load(
    () => import('kubernetes-models/networking.k8s.io/v1/Ingress'),
    (m) => m.Ingress,
  ),
  'monitoring.coreos.com/v1/ServiceMonitor': load(
    () => import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'),
    (m) => m.ServiceMonitor,
  ),
  'monitoring.coreos.com/v1/PodMonitor': load(
    () => import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor'),
    (m) => m.PodMonitor,
  ),
  'monitoring.coreos.com/v1/PrometheusRule': load(
    () => import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule'),
    (m) => m.PrometheusRule,
  ),
};

export const KNOWN_KINDS: readonly string[] = Object.keys(MODELS);

export function describe(o: Partial<K8sObject>): string {
  return `${o.kind ?? '(no kind)'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '(no name)'}`;
}

/**
 * kustomize wraps long base64 values of a Secret's `data` over several lines. The API server
 * decodes them with Go's base64 decoder, which skips line breaks; the schema's "byte" format
 * does not, so line breaks are removed before validating (nothing else changes).
 */
function unwrapSecretData(o: K8sObject): K8sObject {
  const data = o.data as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object') return o;
  const unwrapped = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]),
  );
  return { ...o, data: unwrapped };
}

/** One message per object that is not a valid instance of its kind (empty: all valid). */
export async function validateSchemas(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    if (typeof o?.apiVersion !== 'string' || typeof o?.kind !== 'string') {
      problems.push(`${describe(o ?? {})}: apiVersion and kind must be strings`);
      continue;
    }
    const loader = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!loader) {
      problems.push(
        `${describe(o)}: no schema for apiVersion ${o.apiVersion} kind ${o.kind} ` +
          `(known: ${KNOWN_KINDS.join(', ')}); add its kubernetes-models class to test/infra/k8s-schema.ts`,
      );
      continue;
    }
    const Model = await loader();
    try {
      new Model(o.kind === 'Secret' ? unwrapSecretData(o) : o).validate();
    } catch (err) {
      problems.push(`${describe(o)}: ${(err as Error).message}`);
    }
  }
  return problems;
}
