import { describe } from './k8s-schema.js';
import type {
  Container,
  EnvFromSource,
  K8sObject,
  LabelSelector,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicySpec,
  PodTemplate,
  Quantity,
  ServicePort,
} from './k8s-types.js';

/**
 * Trainyard's deployment rules, checked on rendered Kubernetes objects. `checkRules` returns
 * one readable message per violation (empty: every rule holds). The rules are the contract
 * of infra/k8s/README.md: least privilege, bounded resources, probes, hardened pods, drained
 * GPU workers, default-deny networking with named flows, disruption budgets, and references
 * that resolve within the render.
 */

export const NAMESPACE = 'trainyard';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** The Trainyard services (scraped, probed over HTTP, reachable by Prometheus). */
export const APP_COMPONENTS = ['api', 'scheduler', 'worker'] as const;
/** The label that names a namespace (set by Kubernetes on every namespace). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** Metrics ports Prometheus may reach from its namespace: the api's 8080, the others' 9464. */
const METRICS_PORTS = new Set<number | string>([8080, 9464, 'http', 'metrics']);
const DNS = ['UDP/53', 'TCP/53'];
/** Every egress flow a component may have (protocol/port); anything else is a violation. */
export const EGRESS_ALLOWED: Record<string, readonly string[]> = {
  api: [...DNS, 'TCP/6379'],
  scheduler: [...DNS, 'TCP/6379'],
  worker: [...DNS, 'TCP/6379', 'TCP/443', 'TCP/9000'],
  redis: DNS,
  minio: DNS,
  'minio-setup': [...DNS, 'TCP/9000'],
};
/** Egress flows a component cannot work without. */
const EGRESS_REQUIRED: Record<string, readonly string[]> = {
  api: [...DNS, 'TCP/6379'],
  scheduler: [...DNS, 'TCP/6379'],
  worker: [...DNS, 'TCP/6379'],
};
/** In-namespace components allowed to open connections to a component (besides metrics scrapes). */
export const INGRESS_SOURCES: Record<string, readonly string[]> = {
  redis: ['api', 'scheduler', 'worker'],
  minio: ['worker', 'minio-setup'],
};
/** Workers drain for WORKER_DRAIN_GRACE_MS then exit within 15 s; the pod grace must cover both. */
const WORKER_MIN_GRACE_SECONDS = 90;
const WORKER_EXIT_AFTER_DRAIN_SECONDS = 15;
const DEFAULT_WORKER_DRAIN_GRACE_MS = 60_000;
const RBAC_KINDS = new Set(['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);
const POD_OWNER_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

export interface Pod {
  owner: K8sObject;
  template: PodTemplate;
  /** A Job's (or CronJob's) pod: runs to completion, so its containers need no probes. */
  isJob: boolean;
  namespace: string | undefined;
  labels: Record<string, string>;
  component: string | undefined;
}

interface Spec<T> {
  spec?: T;
}

function specOf<T>(o: K8sObject): T | undefined {
  return (o as unknown as Spec<T>).spec;
}

/** The pod template of every workload (Deployment, StatefulSet, DaemonSet, Job, CronJob). */
export function podsOf(objects: readonly K8sObject[]): Pod[] {
  const pods: Pod[] = [];
  for (const o of objects) {
    if (!POD_OWNER_KINDS.has(o.kind)) continue;
    const spec = specOf<{ template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } }>(o);
    const template = o.kind === 'CronJob' ? spec?.jobTemplate?.spec?.template : spec?.template;
    if (!template?.spec) continue;
    const labels = template.metadata?.labels ?? {};
    pods.push({
      owner: o,
      template,
      isJob: o.kind === 'Job' || o.kind === 'CronJob',
      namespace: o.metadata.namespace,
      labels,
      component: labels[COMPONENT_LABEL],
    });
  }
  return pods;
}

export function isEmptySelector(sel: LabelSelector | undefined): boolean {
  return (
    !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}

/** Kubernetes label-selector semantics; an empty selector matches everything. */
export function selectorMatches(
  sel: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) {
    if (l[k] !== v) return false;
  }
  for (const req of sel?.matchExpressions ?? []) {
    const has = Object.hasOwn(l, req.key);
    const value = l[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function present(q: Quantity | undefined): boolean {
  return q !== undefined && q !== null && String(q).trim() !== '';
}

function containersOf(pod: Pod): { container: Container; init: boolean }[] {
  return [
    ...(pod.template.spec.initContainers ?? []).map((container) => ({ container, init: true })),
    ...(pod.template.spec.containers ?? []).map((container) => ({ container, init: false })),
  ];
}

function where(pod: Pod, c: Container, init: boolean): string {
  return `${describe(pod.owner)} ${init ? 'initContainer' : 'container'} ${c.name}`;
}

function find(objects: readonly K8sObject[], kind: string, namespace: string | undefined, name: string) {
  return objects.find(
    (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
  );
}

function checkNamespaces(objects: readonly K8sObject[], out: string[]): void {
  for (const o of objects) {
    if (o.kind === 'Namespace') {
      if (o.metadata.name !== NAMESPACE) out.push(`${describe(o)}: the only Namespace must be ${NAMESPACE}`);
    } else if (o.metadata.namespace !== NAMESPACE) {
      out.push(`${describe(o)}: must be in namespace ${NAMESPACE} (is ${o.metadata.namespace ?? 'unset'})`);
    }
  }
}

function checkLeastPrivilege(objects: readonly K8sObject[], pods: readonly Pod[], out: string[]): void {
  for (const o of objects) {
    if (RBAC_KINDS.has(o.kind))
      out.push(`${describe(o)}: no RBAC objects: the services need no Kubernetes API access`);
    if (o.kind === 'ServiceAccount' && o.automountServiceAccountToken !== false) {
      out.push(`${describe(o)}: automountServiceAccountToken must be false`);
    }
  }
  for (const pod of pods) {
    const spec = pod.template.spec;
    if (spec.automountServiceAccountToken !== false) {
      out.push(`${describe(pod.owner)}: pod automountServiceAccountToken must be false`);
    }
    if (!spec.serviceAccountName) {
      out.push(`${describe(pod.owner)}: must name its own serviceAccountName (not the namespace's default)`);
    } else if (!find(objects, 'ServiceAccount', pod.namespace, spec.serviceAccountName)) {
      out.push(`${describe(pod.owner)}: ServiceAccount ${spec.serviceAccountName} is not in the render`);
    }
  }
}

function checkContainers(pods: readonly Pod[], out: string[]): void {
  for (const pod of pods) {
    const podSec = pod.template.spec.securityContext ?? {};
    for (const { container: c, init } of containersOf(pod)) {
      const at = where(pod, c, init);
      const r = c.resources ?? {};
      for (const [kind, values] of [
        ['requests', r.requests],
        ['limits', r.limits],
      ] as const) {
        for (const res of ['cpu', 'memory']) {
          if (!present(values?.[res])) out.push(`${at}: resources.${kind}.${res} is missing`);
        }
      }
      // A Job's containers run to completion, and init containers cannot have probes.
      if (!pod.isJob && !init) {
        if (!c.livenessProbe) out.push(`${at}: livenessProbe is missing`);
        if (!c.readinessProbe) out.push(`${at}: readinessProbe is missing`);
      }
      const names = new Set((c.ports ?? []).map((p) => p.name).filter((n) => n !== undefined));
      for (const [which, probe] of [
        ['livenessProbe', c.livenessProbe],
        ['readinessProbe', c.readinessProbe],
        ['startupProbe', c.startupProbe],
      ] as const) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (typeof port === 'string' && !names.has(port))
          out.push(`${at}: ${which} uses port ${port}, not declared`);
      }
      const sec = c.securityContext ?? {};
      if ((sec.runAsNonRoot ?? podSec.runAsNonRoot) !== true) out.push(`${at}: runAsNonRoot must be true`);
      if ((sec.runAsUser ?? podSec.runAsUser) === 0) out.push(`${at}: must not run as uid 0`);
      if (sec.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation must be false`);
      if (sec.privileged === true) out.push(`${at}: must not be privileged`);
      if (!(sec.capabilities?.drop ?? []).includes('ALL'))
        out.push(`${at}: capabilities.drop must include ALL`);
      if ((sec.capabilities?.add ?? []).length > 0) out.push(`${at}: must not add capabilities`);
      if (sec.readOnlyRootFilesystem !== true) out.push(`${at}: readOnlyRootFilesystem must be true`);
      const seccomp = sec.seccompProfile?.type ?? podSec.seccompProfile?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
        out.push(`${at}: seccompProfile must be RuntimeDefault (pod or container)`);
      }
      const image = c.image ?? '';
      const lastPart = image.split('/').pop() ?? '';
      if (!image.includes('@sha256:') && (!lastPart.includes(':') || lastPart.endsWith(':latest'))) {
        out.push(
          `${at}: image ${JSON.stringify(image)} must be pinned to a tag other than latest (or a digest)`,
        );
      }
    }
  }
}

function gpuCount(q: Quantity | undefined): number {
  return q === undefined ? 0 : Number(q);
}

function checkWorkers(pods: readonly Pod[], out: string[]): void {
  const workers = pods.filter((p) => p.component === 'worker');
  for (const pod of workers) {
    const spec = pod.template.spec;
    const main = spec.containers.find((c) => c.name === 'worker') ?? spec.containers[0];
    if (!main) continue;
    const req = gpuCount(main.resources?.requests?.['nvidia.com/gpu']);
    const lim = gpuCount(main.resources?.limits?.['nvidia.com/gpu']);
    if (/\/worker-gpu(:|@|$)/.test(main.image ?? '')) {
      if (!(req >= 1) || req !== lim) {
        out.push(`${describe(pod.owner)}: workers must request and limit nvidia.com/gpu (>= 1, equal)`);
      }
    } else if (req > 0 || lim > 0) {
      // The CPU image (components/cpu-workers) has no CUDA: a GPU would sit idle.
      out.push(
        `${describe(pod.owner)}: a worker on the CPU image ${main.image} must not request nvidia.com/gpu`,
      );
    }
    const drainMs = Number(
      main.env?.find((e) => e.name === 'WORKER_DRAIN_GRACE_MS')?.value ?? DEFAULT_WORKER_DRAIN_GRACE_MS,
    );
    const need = Math.max(
      WORKER_MIN_GRACE_SECONDS,
      Math.ceil(drainMs / 1000) + WORKER_EXIT_AFTER_DRAIN_SECONDS,
    );
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (grace < need) {
      out.push(
        `${describe(pod.owner)}: terminationGracePeriodSeconds ${grace} < ${need} ` +
          `(WORKER_DRAIN_GRACE_MS ${drainMs} + ${WORKER_EXIT_AFTER_DRAIN_SECONDS} s to exit, at least ${WORKER_MIN_GRACE_SECONDS})`,
      );
    }
  }
}

function checkScrapeAnnotations(pods: readonly Pod[], out: string[]): void {
  for (const pod of pods) {
    if (!APP_COMPONENTS.includes(pod.component as (typeof APP_COMPONENTS)[number])) continue;
    const a = pod.template.metadata?.annotations ?? {};
    const ports = pod.template.spec.containers.flatMap((c) =>
      (c.ports ?? []).map((p) => String(p.containerPort)),
    );
    if (a['prometheus.io/scrape'] !== 'true')
      out.push(`${describe(pod.owner)}: prometheus.io/scrape must be "true"`);
    if (a['prometheus.io/path'] !== '/metrics')
      out.push(`${describe(pod.owner)}: prometheus.io/path must be /metrics`);
    if (!a['prometheus.io/port'] || !ports.includes(a['prometheus.io/port'])) {
      out.push(
        `${describe(pod.owner)}: prometheus.io/port must be one of its container ports (${ports.join(', ')})`,
      );
    }
  }
}

function checkSelectorsAndBudgets(objects: readonly K8sObject[], pods: readonly Pod[], out: string[]): void {
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const pod of pods) {
    if (pod.isJob) continue;
    const selector = specOf<{ selector?: LabelSelector }>(pod.owner)?.selector;
    if (isEmptySelector(selector) || !selectorMatches(selector, pod.labels)) {
      out.push(`${describe(pod.owner)}: spec.selector must be non-empty and match the pod template's labels`);
    }
    if (pod.owner.kind !== 'Deployment' && pod.owner.kind !== 'StatefulSet') continue;
    const budget = pdbs.find((p) => {
      const sel = specOf<{ selector?: LabelSelector }>(p)?.selector;
      return (
        p.metadata.namespace === pod.namespace && !isEmptySelector(sel) && selectorMatches(sel, pod.labels)
      );
    });
    if (!budget) out.push(`${describe(pod.owner)}: no PodDisruptionBudget selects its pods`);
  }
}

function checkServices(objects: readonly K8sObject[], pods: readonly Pod[], out: string[]): void {
  const services = objects.filter((o) => o.kind === 'Service');
  for (const svc of services) {
    const spec = specOf<{ selector?: Record<string, string>; ports?: ServicePort[] }>(svc) ?? {};
    if (!spec.selector || Object.keys(spec.selector).length === 0) {
      out.push(`${describe(svc)}: must select pods`);
      continue;
    }
    const matched = pods.filter(
      (p) =>
        p.namespace === svc.metadata.namespace && selectorMatches({ matchLabels: spec.selector }, p.labels),
    );
    if (matched.length === 0) {
      out.push(`${describe(svc)}: its selector matches no pod template in the render`);
      continue;
    }
    for (const port of spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const ok = matched.some((p) =>
        p.template.spec.containers.some((c) =>
          (c.ports ?? []).some((cp) =>
            typeof target === 'string' ? cp.name === target : cp.containerPort === target,
          ),
        ),
      );
      if (!ok)
        out.push(
          `${describe(svc)}: port ${port.name ?? port.port} targets ${target}, which no selected container exposes`,
        );
    }
  }
  for (const sm of objects.filter((o) => o.kind === 'ServiceMonitor')) {
    const spec =
      specOf<{ selector?: LabelSelector; namespaceSelector?: unknown; endpoints?: { port?: string }[] }>(
        sm,
      ) ?? {};
    const selected = services.filter(
      (s) =>
        (spec.namespaceSelector !== undefined || s.metadata.namespace === sm.metadata.namespace) &&
        selectorMatches(spec.selector, s.metadata.labels),
    );
    const endpointPorts = (spec.endpoints ?? []).map((e) => e.port);
    if (selected.length === 0) out.push(`${describe(sm)}: selects no Service`);
    for (const s of selected) {
      const names = (specOf<{ ports?: ServicePort[] }>(s)?.ports ?? []).map((p) => p.name);
      if (!endpointPorts.some((p) => p !== undefined && names.includes(p))) {
        out.push(
          `${describe(sm)}: selects ${describe(s)} but none of its endpoint ports (${endpointPorts.join(', ')})`,
        );
      }
    }
    for (const p of endpointPorts) {
      const used = selected.some((s) =>
        (specOf<{ ports?: ServicePort[] }>(s)?.ports ?? []).some((sp) => sp.name === p),
      );
      if (!used) out.push(`${describe(sm)}: endpoint port ${p} exists on no selected Service`);
    }
  }
}

function checkReferences(objects: readonly K8sObject[], pods: readonly Pod[], out: string[]): void {
  const keysOf = (o: K8sObject | undefined): Set<string> =>
    new Set([
      ...Object.keys((o?.data as Record<string, string>) ?? {}),
      ...Object.keys((o?.binaryData as Record<string, string>) ?? {}),
      ...Object.keys((o?.stringData as Record<string, string>) ?? {}),
    ]);
  for (const pod of pods) {
    for (const { container: c, init } of containersOf(pod)) {
      const at = where(pod, c, init);
      for (const e of c.env ?? []) {
        for (const [kind, ref] of [
          ['ConfigMap', e.valueFrom?.configMapKeyRef],
          ['Secret', e.valueFrom?.secretKeyRef],
        ] as const) {
          if (!ref || ref.optional) continue;
          const target = find(objects, kind, pod.namespace, ref.name);
          if (!target)
            out.push(`${at}: env ${e.name} refers to ${kind} ${ref.name}, which is not in the render`);
          else if (!keysOf(target).has(ref.key)) {
            out.push(
              `${at}: env ${e.name} refers to key ${ref.key} of ${kind} ${ref.name}, which has no such key`,
            );
          }
        }
      }
      for (const from of c.envFrom ?? ([] as EnvFromSource[])) {
        for (const [kind, ref] of [
          ['ConfigMap', from.configMapRef],
          ['Secret', from.secretRef],
        ] as const) {
          if (ref && !ref.optional && !find(objects, kind, pod.namespace, ref.name)) {
            out.push(`${at}: envFrom refers to ${kind} ${ref.name}, which is not in the render`);
          }
        }
      }
    }
    for (const v of pod.template.spec.volumes ?? []) {
      if (
        v.configMap &&
        !v.configMap.optional &&
        !find(objects, 'ConfigMap', pod.namespace, v.configMap.name)
      ) {
        out.push(
          `${describe(pod.owner)}: volume ${v.name} refers to ConfigMap ${v.configMap.name}, not in the render`,
        );
      }
      if (v.secret && !v.secret.optional && !find(objects, 'Secret', pod.namespace, v.secret.secretName)) {
        out.push(
          `${describe(pod.owner)}: volume ${v.name} refers to Secret ${v.secret.secretName}, not in the render`,
        );
      }
    }
  }
}

function isOwnNamespace(sel: LabelSelector): boolean {
  return sel.matchLabels?.[NAMESPACE_NAME_LABEL] === NAMESPACE;
}

/** Sources outside the namespace: no `from` at all, an ipBlock, or another namespace. */
function admitsOutside(peers: readonly NetworkPolicyPeer[]): boolean {
  return (
    peers.length === 0 ||
    peers.some(
      (p) =>
        p.ipBlock !== undefined ||
        (p.namespaceSelector !== undefined && !isOwnNamespace(p.namespaceSelector)),
    )
  );
}

/** The monitoring exception: one named namespace (by kubernetes.io/metadata.name), metrics ports only. */
function isMetricsFromMonitoring(
  peers: readonly NetworkPolicyPeer[],
  ports: readonly NetworkPolicyPort[],
): boolean {
  const namedNamespace = (p: NetworkPolicyPeer): boolean => {
    const ns = p.namespaceSelector;
    const keys = Object.keys(ns?.matchLabels ?? {});
    return (
      p.ipBlock === undefined &&
      ns !== undefined &&
      (ns.matchExpressions ?? []).length === 0 &&
      keys.length === 1 &&
      keys[0] === NAMESPACE_NAME_LABEL &&
      !isOwnNamespace(ns)
    );
  };
  return (
    peers.length > 0 &&
    peers.every(namedNamespace) &&
    ports.length > 0 &&
    ports.every((p) => p.port !== undefined && p.endPort === undefined && METRICS_PORTS.has(p.port))
  );
}

function policyTypes(spec: NetworkPolicySpec): string[] {
  return spec.policyTypes ?? (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

function portKey(p: NetworkPolicyPort): string {
  return `${p.protocol ?? 'TCP'}/${p.port ?? '*'}${p.endPort !== undefined ? `-${p.endPort}` : ''}`;
}

function checkNetwork(objects: readonly K8sObject[], pods: readonly Pod[], out: string[]): void {
  const policies = objects
    .filter((o) => o.kind === 'NetworkPolicy')
    .map((o) => ({ o, spec: specOf<NetworkPolicySpec>(o) ?? { podSelector: {} } }));
  const denyIngress = policies.some(
    ({ spec }) =>
      isEmptySelector(spec.podSelector) &&
      policyTypes(spec).includes('Ingress') &&
      (spec.ingress ?? []).length === 0,
  );
  const denyEgress = policies.some(
    ({ spec }) =>
      isEmptySelector(spec.podSelector) &&
      policyTypes(spec).includes('Egress') &&
      (spec.egress ?? []).length === 0,
  );
  if (!denyIngress || !denyEgress) {
    out.push('NetworkPolicy: a default deny of ingress and egress for every pod (podSelector {}) is missing');
  }
  let apiExposed = false;
  const egressByPod = new Map<Pod, Set<string>>();
  for (const { o, spec } of policies) {
    const selected = pods.filter(
      (p) => p.namespace === o.metadata.namespace && selectorMatches(spec.podSelector, p.labels),
    );
    for (const rule of policyTypes(spec).includes('Ingress') ? (spec.ingress ?? []) : []) {
      const peers = rule.from ?? [];
      const ports = rule.ports ?? [];
      if (admitsOutside(peers)) {
        if (isMetricsFromMonitoring(peers, ports)) continue;
        if (ports.length === 0)
          out.push(`${describe(o)}: admits sources outside the namespace on every port`);
        for (const p of selected) {
          if (p.component === 'api') apiExposed = true;
          else {
            out.push(
              `${describe(o)}: admits sources outside the namespace to ${describe(p.owner)} (only the api may be reachable from outside)`,
            );
          }
        }
        continue;
      }
      const sources = pods.filter((s) =>
        peers.some(
          (peer) => s.namespace === o.metadata.namespace && selectorMatches(peer.podSelector, s.labels),
        ),
      );
      for (const target of selected) {
        const allowed = INGRESS_SOURCES[target.component ?? ''] ?? [];
        for (const s of sources) {
          if (!allowed.includes(s.component ?? '')) {
            out.push(
              `${describe(o)}: lets ${describe(s.owner)} reach ${describe(target.owner)}, which it must not`,
            );
          }
        }
      }
    }
    for (const rule of policyTypes(spec).includes('Egress') ? (spec.egress ?? []) : []) {
      for (const p of selected) {
        const set = egressByPod.get(p) ?? new Set<string>();
        egressByPod.set(p, set);
        if ((rule.ports ?? []).length === 0) set.add('*/*');
        for (const port of rule.ports ?? []) set.add(portKey(port));
      }
    }
  }
  if (!apiExposed) out.push('NetworkPolicy: no policy admits clients from outside the namespace to the api');
  for (const pod of pods) {
    const allowedFor = EGRESS_ALLOWED[pod.component ?? ''];
    if (!allowedFor) {
      out.push(
        `${describe(pod.owner)}: component ${pod.component ?? '(none)'} has no egress expectations in k8s-rules.ts`,
      );
      continue;
    }
    const flows = egressByPod.get(pod) ?? new Set<string>();
    for (const f of flows) {
      if (!allowedFor.includes(f))
        out.push(
          `${describe(pod.owner)}: egress ${f} is allowed, but it needs only ${allowedFor.join(', ')}`,
        );
    }
    for (const f of EGRESS_REQUIRED[pod.component ?? ''] ?? DNS) {
      if (!flows.has(f)) out.push(`${describe(pod.owner)}: egress ${f} is not allowed, but it needs it`);
    }
    if (pod.component === 'worker' && !flows.has('TCP/443') && !flows.has('TCP/9000')) {
      out.push(`${describe(pod.owner)}: workers need egress to the object store (TCP/443 or TCP/9000)`);
    }
  }
}

/** Every rule, on one render. Empty when all hold. */
export function checkRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const pods = podsOf(objects);
  checkNamespaces(objects, out);
  checkLeastPrivilege(objects, pods, out);
  checkContainers(pods, out);
  checkWorkers(pods, out);
  checkScrapeAnnotations(pods, out);
  checkSelectorsAndBudgets(objects, pods, out);
  checkServices(objects, pods, out);
  checkReferences(objects, pods, out);
  checkNetwork(objects, pods, out);
  return out;
}
