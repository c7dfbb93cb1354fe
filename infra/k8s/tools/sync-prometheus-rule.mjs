// Regenerates infra/k8s/base/prometheusrule.yaml from the Prometheus rule file
// infra/observability/prometheus/rules/trainyard.rules.yml, so Kubernetes (Prometheus
// Operator) and docker compose alert on the same groups. test/infra/k8s.test.ts fails while
// the two differ. Run from anywhere:  node infra/k8s/tools/sync-prometheus-rule.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const k8sDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const rulesPath = join(k8sDir, '..', 'observability', 'prometheus', 'rules', 'trainyard.rules.yml');
const outPath = join(k8sDir, 'base', 'prometheusrule.yaml');

const rules = parse(readFileSync(rulesPath, 'utf8'));
if (!rules || !Array.isArray(rules.groups)) {
  throw new Error(`${rulesPath} has no 'groups' list`);
}
const resource = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'trainyard',
    labels: {
      'app.kubernetes.io/name': 'trainyard',
      'app.kubernetes.io/part-of': 'trainyard',
      // kube-prometheus-stack's Prometheus picks up rules labelled with its Helm release
      // name by default; see infra/k8s/README.md (Prometheus Operator).
      release: 'kube-prometheus-stack',
    },
  },
  spec: { groups: rules.groups },
};
const header = [
  '# GENERATED from infra/observability/prometheus/rules/trainyard.rules.yml by',
  '# infra/k8s/tools/sync-prometheus-rule.mjs. Do not edit: edit the rule file and rerun',
  '#   node infra/k8s/tools/sync-prometheus-rule.mjs',
  '# (test/infra/k8s.test.ts fails while the groups differ).',
  '',
].join('\n');
writeFileSync(outPath, header + stringify(resource, { lineWidth: 0 }));
console.log(`wrote ${outPath} (${rules.groups.length} group(s))`);
