// The Grafana dashboards as files (their queries are proven against a real Prometheus in
// test/prometheus.test.ts): each parses, has a unique uid and title, a `datasource`
// variable that every panel and target uses (so any Prometheus data source works), only
// variables it defines or Grafana's built-ins, unique panel ids, and panels that do not
// overlap on the 24-column grid.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@trainyard/devkit';
import { describe, expect, it } from 'vitest';

const DIR = join(REPO_ROOT, 'infra/observability/grafana/dashboards');
/** Grafana's reference to the dashboard's data source variable. */
const DATASOURCE = ['$', '{datasource}'].join('');
const BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__range_s', '__range_ms']);

interface Panel {
  id: number;
  title: string;
  datasource?: { uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: Panel[];
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const dashboards = files.map(
  (f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard] as const,
);

/** Problems of one dashboard, as sentences (empty when it is fine). */
function problems(d: Dashboard): string[] {
  const out: string[] = [];
  const vars = new Set(d.templating.list.map((v) => v.name));
  const ds = d.templating.list.find((v) => v.name === 'datasource');
  if (ds?.type !== 'datasource' || ds.query !== 'prometheus')
    out.push('no `datasource` variable of type prometheus');
  const ids = new Set<number>();
  for (const p of d.panels) {
    if (ids.has(p.id)) out.push(`panel id ${p.id} is used twice`);
    ids.add(p.id);
    if (p.datasource?.uid !== DATASOURCE) out.push(`panel "${p.title}" does not use \${datasource}`);
    if ((p.targets ?? []).length === 0) out.push(`panel "${p.title}" has no query`);
    for (const t of p.targets ?? []) {
      if (t.datasource?.uid !== DATASOURCE) out.push(`a query of "${p.title}" does not use \${datasource}`);
      for (const [, name] of (t.expr ?? '').matchAll(/\$\{?(\w+)\}?/g)) {
        if (!vars.has(name!) && !BUILTINS.has(name!))
          out.push(`"${p.title}" uses undefined variable $${name}`);
      }
    }
    const { x, w } = p.gridPos;
    if (x < 0 || w < 1 || x + w > 24) out.push(`panel "${p.title}" is outside the 24-column grid`);
  }
  for (const [i, a] of d.panels.entries()) {
    for (const b of d.panels.slice(i + 1)) {
      const A = a.gridPos;
      const B = b.gridPos;
      if (A.x < B.x + B.w && B.x < A.x + A.w && A.y < B.y + B.h && B.y < A.y + A.h)
        out.push(`panels "${a.title}" and "${b.title}" overlap`);
    }
  }
  return out;
}

describe('Grafana dashboards', () => {
  it('there are the three dashboards, with unique uids and titles', () => {
    expect(files.sort()).toEqual([
      'trainyard-job.json',
      'trainyard-overview.json',
      'trainyard-scheduler.json',
    ]);
    expect(new Set(dashboards.map(([, d]) => d.uid)).size).toBe(3);
    expect(new Set(dashboards.map(([, d]) => d.title)).size).toBe(3);
  });

  it.each(dashboards)('%s is well formed', (_file, d) => {
    expect(problems(d)).toEqual([]);
  });

  it('the job dashboard selects a job with its job_id variable', () => {
    const job = dashboards.find(([f]) => f === 'trainyard-job.json')![1];
    expect(job.templating.list.map((v) => v.name)).toContain('job_id');
    expect(job.panels.every((p) => (p.targets ?? []).every((t) => t.expr?.includes('$job_id')))).toBe(true);
  });

  it('the checks catch a broken dashboard', () => {
    const broken = structuredClone(dashboards[0]![1]);
    broken.templating.list = broken.templating.list.filter((v) => v.name !== 'datasource');
    broken.panels[1]!.id = broken.panels[0]!.id;
    broken.panels[1]!.gridPos = { ...broken.panels[0]!.gridPos };
    broken.panels[0]!.targets![0]!.expr = 'rate(x{a="$nope"}[$__rate_interval])';
    const found = problems(broken).join('\n');
    expect(found).toMatch(/no `datasource` variable/);
    expect(found).toMatch(/panel id \d+ is used twice/);
    expect(found).toMatch(/overlap/);
    expect(found).toMatch(/undefined variable \$nope/);
  });
});
