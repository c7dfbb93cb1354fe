import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s-types.js';

/**
 * Renders a kustomization directory into Kubernetes objects: with `kubectl kustomize` when
 * kubectl is installed, else with a small built-in approximation that reads the YAML files
 * the kustomizations list (see {@link fallbackRender}).
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const K8S_DIR = join(REPO_ROOT, 'infra', 'k8s');

/** Set TRAINYARD_K8S_FORCE_FALLBACK=1 to exercise the no-kubectl path on a machine that has kubectl. */
export function kubectlAvailable(): boolean {
  if (process.env.TRAINYARD_K8S_FORCE_FALLBACK === '1') return false;
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000 });
  return probe.error === undefined && probe.status === 0;
}

export const FALLBACK_NOTICE =
  'kubectl was not found on PATH (or TRAINYARD_K8S_FORCE_FALLBACK=1): `kubectl kustomize` cannot render the ' +
  'manifests, so these tests validate the UNRENDERED YAML files under infra/k8s instead — the resources and ' +
  'generators each kustomization lists, with its namespace, but WITHOUT its patches, images or components. ' +
  'Checks that need those are skipped. Install kubectl (1.27+) for the full check.';

/** Parses a multi-document YAML stream; throws on a syntax error; drops empty documents. */
export function parseYamlDocuments(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      throw new Error(`${source}: YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(value as K8sObject);
  }
  return out;
}

/** `kubectl kustomize <dir>`, parsed. Throws with kubectl's stderr when it fails. */
export function kubectlRender(dir: string): K8sObject[] {
  const run = spawnSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  if (run.status !== 0)
    throw new Error(`kubectl kustomize ${dir} failed (exit ${run.status}): ${run.stderr}`);
  return parseYamlDocuments(run.stdout, `kubectl kustomize ${dir}`);
}

export interface Rendered {
  mode: 'kubectl' | 'fallback';
  objects: K8sObject[];
}

export function render(dir: string, useKubectl: boolean): Rendered {
  return useKubectl
    ? { mode: 'kubectl', objects: kubectlRender(dir) }
    : { mode: 'fallback', objects: fallbackRender(dir) };
}

interface Generator {
  name: string;
  namespace?: string;
  behavior?: 'create' | 'merge' | 'replace';
  type?: string;
  literals?: string[];
  envs?: string[];
  files?: string[];
  options?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  generatorOptions?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
]);

function splitKeyValue(line: string, source: string): [string, string] {
  const at = line.indexOf('=');
  if (at <= 0) throw new Error(`${source}: expected KEY=VALUE, got ${JSON.stringify(line)}`);
  return [line.slice(0, at).trim(), line.slice(at + 1)];
}

function generatorData(gen: Generator, dir: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const literal of gen.literals ?? []) {
    const [k, v] = splitKeyValue(literal, `${gen.name} literal`);
    data[k] = v;
  }
  for (const envFile of gen.envs ?? []) {
    const text = readFileSync(join(dir, envFile), 'utf8');
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const [k, v] = splitKeyValue(line, join(dir, envFile));
      data[k] = v;
    }
  }
  for (const file of gen.files ?? []) {
    const [key, path] = file.includes('=')
      ? splitKeyValue(file, `${gen.name} files`)
      : [basename(file), file];
    data[key] = readFileSync(join(dir, path), 'utf8');
  }
  return data;
}

/**
 * The no-kubectl approximation of `kubectl kustomize`: the objects of every file (and, for a
 * directory, every kustomization) in `resources`, the ConfigMaps and Secrets of
 * `configMapGenerator`/`secretGenerator` (create, merge and replace behaviours; no name
 * hash), and the kustomization's `namespace`. Patches, `images`, `components` and every
 * other transformer are NOT applied.
 */
export function fallbackRender(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) objects.push(...fallbackRender(path));
    else objects.push(...parseYamlDocuments(readFileSync(path, 'utf8'), path));
  }
  const generate = (kind: 'ConfigMap' | 'Secret', gen: Generator): void => {
    const raw = generatorData(gen, dir);
    const data =
      kind === 'Secret'
        ? Object.fromEntries(Object.entries(raw).map(([key, v]) => [key, Buffer.from(v).toString('base64')]))
        : raw;
    const existing = objects.find((o) => o.kind === kind && o.metadata.name === gen.name);
    const behavior = gen.behavior ?? 'create';
    if (behavior === 'create') {
      if (existing) throw new Error(`${dir}: ${kind} ${gen.name} generated twice (behavior create)`);
      const labels = { ...k.generatorOptions?.labels, ...gen.options?.labels };
      const annotations = { ...k.generatorOptions?.annotations, ...gen.options?.annotations };
      objects.push({
        apiVersion: 'v1',
        kind,
        metadata: {
          name: gen.name,
          ...(gen.namespace ? { namespace: gen.namespace } : {}),
          ...(Object.keys(labels).length > 0 ? { labels } : {}),
          ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        },
        ...(kind === 'Secret' ? { type: gen.type ?? 'Opaque' } : {}),
        data,
      });
      return;
    }
    if (!existing)
      throw new Error(`${dir}: ${kind} ${gen.name} has behavior ${behavior} but no base to apply it to`);
    const before = (existing.data ?? {}) as Record<string, string>;
    existing.data = behavior === 'merge' ? { ...before, ...data } : data;
  };
  for (const gen of k.configMapGenerator ?? []) generate('ConfigMap', gen);
  for (const gen of k.secretGenerator ?? []) generate('Secret', gen);
  if (k.namespace) {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    }
  }
  return objects;
}
